from django import template

from .. import selectors

register = template.Library()


@register.inclusion_tag("dashboards/partials/my_assignments.html")
def my_assignments(user):
    """The "Assigned to you" block on an employee's home page (the course catalog)."""
    return {"assignments": selectors.assignments_for(user=user) if user.is_authenticated else []}
