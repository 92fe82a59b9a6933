from django import template

from ..reminders import assignments_for

register = template.Library()


@register.inclusion_tag("dashboards/partials/my_assignments.html")
def my_assignments(user):
    """The "Assigned to you" block on an employee's home page (the course catalog)."""
    return {"assignments": assignments_for(user=user) if user.is_authenticated else []}
