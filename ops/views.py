from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from core import policy

from .health import health_report, public_summary


# Load balancers and the run script poll this without a session, so it is public;
# it says only states and counts (ops.health.public_summary), nothing about people.
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
