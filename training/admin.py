from django.contrib import admin

from audit.models import Source
from audit.services import Origin

from . import services
from .models import Dataset, FineTuneJob, JobLog, Quota


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ("user", "max_concurrent", "gpu_seconds_per_week", "updated_at")
    search_fields = ("user__username", "user__name")
    autocomplete_fields = ("user",)

    # Through the service, so an edit here leaves the same audit entry as the backend page.
    def save_model(self, request, obj, form, change):
        services.quota_set(user=obj.user, max_concurrent=obj.max_concurrent,
                           gpu_seconds_per_week=obj.gpu_seconds_per_week,
                           origin=Origin.from_request(request, source=Source.ADMIN))
        obj.pk = services.quota_for(obj.user).pk

    def delete_model(self, request, obj):
        services.quota_delete(quota=obj, origin=Origin.from_request(request, source=Source.ADMIN))

    def delete_queryset(self, request, queryset):
        for quota in queryset.select_related("user"):
            self.delete_model(request, quota)


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
