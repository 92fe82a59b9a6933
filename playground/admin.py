from django.contrib import admin

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
