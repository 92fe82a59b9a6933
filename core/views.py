from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.models import Team, User
from playground.forms import ModelRegisterForm
from playground.models import ModelEntry
from playground.services import model_register

from .permissions import role_required
from .roles import Role


def home(request):
    """Send each role to its place."""
    role = request.user.effective_role
    if role == Role.ADMIN:
        return redirect("core:curation")
    if role == Role.MANAGER:
        return redirect("dashboards:overview")
    return redirect("courseapp:catalog")


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
