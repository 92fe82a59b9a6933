from django.contrib import admin

from .models import ModelEntry


@admin.register(ModelEntry)
class ModelEntryAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "kind", "enabled", "is_builtin", "source")
    list_filter = ("kind", "enabled", "is_builtin")
    search_fields = ("name", "display_name", "source")
