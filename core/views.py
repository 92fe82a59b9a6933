from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache

from accounts.models import Role

from . import policy
from .health import health_report, public_summary


def home(request):
    """Send each role to its place."""
    role = request.user.effective_role
    if role == Role.ADMIN:
        return redirect("curation")
    if role == Role.MANAGER:
        return redirect("dashboards:overview")
    return redirect("courseapp:catalog")


# Load balancers and the run script poll this without a session, so it is public;
# it says only states and counts (core.health.public_summary), nothing about people.
@login_not_required
@never_cache
async def healthz(request):
    report = await health_report()
    return JsonResponse(public_summary(report), status=200 if report["ok"] else 503)


@never_cache
async def health_detail(request):
    """The full report (workers, their loaded models, errors), for admins."""
    user = await request.auser()
    if not await sync_to_async(policy.may_administer)(user):
        raise PermissionDenied
    report = await health_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
