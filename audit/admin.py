from django.contrib import admin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the log is append-only, written by the services, and purged only by retention."""

    list_display = ("at", "action", "source", "actor_label", "address", "target_label")
    list_filter = ("source", "action")
    search_fields = ("action", "actor_label", "target_label", "target_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
