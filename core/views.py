from django.shortcuts import redirect

from .roles import Role


def home(request):
    """Send each role to its place."""
    role = request.user.effective_role
    if role == Role.ADMIN:
        return redirect("curation")
    if role == Role.MANAGER:
        return redirect("dashboards:overview")
    return redirect("courseapp:catalog")
