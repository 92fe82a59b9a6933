from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Team, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "name", "email", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active")
    search_fields = ("username", "name", "email")
    fieldsets = BaseUserAdmin.fieldsets + (("LLM Academy", {"fields": ("name", "role", "team")}),)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    filter_horizontal = ("managers",)
    search_fields = ("name",)
