from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from audit.models import Source
from audit.services import Origin

from .models import Role, Team, User
from .services import team_audit_edit, user_access_changed


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "name", "email", "role", "team", "is_active")
    list_filter = ("role", "team", "is_active")
    search_fields = ("username", "name", "email")
    fieldsets = BaseUserAdmin.fieldsets + (("LLM Academy", {"fields": ("name", "role", "team")}),)

    def save_model(self, request, obj, form, change):
        # The admin saves inside a transaction, so the managers follow the role and
        # team in the same one, as with `manage.py people`.
        previous = User.objects.filter(pk=obj.pk).values_list("role", "team_id").first() if change else None
        super().save_model(request, obj, form, change)
        user_access_changed(user=obj, previous_role=previous[0] if previous else None,
                            previous_team_id=previous[1] if previous else None,
                            origin=Origin.from_request(request, source=Source.ADMIN))


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    filter_horizontal = ("managers",)
    search_fields = ("name",)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "managers":  # only people with the manager role can manage a team
            kwargs["queryset"] = User.objects.filter(role=Role.MANAGER, is_active=True)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        request._managers_before = sorted(obj.managers.values_list("username", flat=True)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        team_audit_edit(team=form.instance, managers_before=request._managers_before,
                        origin=Origin.from_request(request, source=Source.ADMIN))
