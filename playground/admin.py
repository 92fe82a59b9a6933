from django.contrib import admin

from audit.models import Source
from audit.services import Origin

from . import services
from .models import ModelEndpoint, ModelEntry


class ModelEndpointInline(admin.StackedInline):
    """An endpoint's URL, model, limits and where its key is read from (never the key)."""

    model = ModelEndpoint
    extra = 0
    max_num = 1


@admin.register(ModelEntry)
class ModelEntryAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "kind", "enabled", "is_builtin", "source")
    list_filter = ("kind", "enabled", "is_builtin")
    search_fields = ("name", "display_name", "source")
    inlines = [ModelEndpointInline]

    # Changes and removals here leave the same audit entries as the Curation page.
    def save_model(self, request, obj, form, change):
        request._audit_before = services.model_snapshot(ModelEntry.objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.model_audit_change(entry=form.instance, before=request._audit_before,
                                    origin=Origin.from_request(request, source=Source.ADMIN))

    def delete_model(self, request, obj):
        services.model_remove(entry=obj, origin=Origin.from_request(request, source=Source.ADMIN))

    def delete_queryset(self, request, queryset):
        for entry in queryset:
            self.delete_model(request, entry)
