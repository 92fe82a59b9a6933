from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.models import Role, Team, User
from playground.forms import ModelRegisterForm
from playground.models import ModelEntry
from playground.services import model_register

from . import policy
from .health import health_report, public_summary
from .permissions import role_required


def home(request):
    """Send each role to its place."""
    role = request.user.effective_role
    if role == Role.ADMIN:
        return redirect("core:curation")
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


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def curation(request):
    form = ModelRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            entry = model_register(created_by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("Model %(name)s registered. Restart the model workers to load it.") % {"name": entry.name})
            return redirect("core:curation")
    context = {
        "form": form,
        "models": ModelEntry.objects.all(),
        "user_counts": {role.label: User.objects.filter(role=role.value, is_active=True).count() for role in Role},
        "teams": Team.objects.prefetch_related("managers").all(),
    }
    return render(request, "core/curation.html", context)
