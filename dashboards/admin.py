from django.contrib import admin

from .models import Assignment, ExportJob, ReminderLog


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["course", "team", "user", "due_date", "assigned_by"]
    list_filter = ["course", "team"]


@admin.register(ReminderLog)
class ReminderLogAdmin(admin.ModelAdmin):
    list_display = ["kind", "user", "assignment", "date", "sent_at"]
    list_filter = ["kind", "date"]


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "requested_by", "status", "row_count", "created_at"]
    list_filter = ["status", "kind"]
