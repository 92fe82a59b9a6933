from django.contrib import admin

from .models import Dataset, FineTuneJob, JobLog, Quota


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ("user", "max_concurrent", "gpu_seconds_per_week", "updated_at")
    search_fields = ("user__username", "user__name")
    autocomplete_fields = ("user",)


@admin.register(FineTuneJob)
class FineTuneJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "name", "user", "kind", "method", "status", "attempts", "queue_name", "device",
                    "gpu_seconds", "created_at")
    list_filter = ("status", "kind", "method", "queue_name", "device")
    search_fields = ("name", "user__username")
    readonly_fields = [f.name for f in FineTuneJob._meta.fields]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "kind", "fmt", "rows", "created_at")


@admin.register(JobLog)
class JobLogAdmin(admin.ModelAdmin):
    list_display = ("job", "created_at", "message")
    list_filter = ("job__status",)
