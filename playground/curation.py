"""The Curation page (admins): the model registry, with a form for a model by local path
and one for an OpenAI-compatible endpoint, plus counts of people and the teams."""

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_http_methods

from accounts.models import Role, Team, User
from audit.services import Origin
from core.permissions import role_required

from .endpoints import EndpointConfig, probe
from .forms import EndpointRegisterForm, ModelRegisterForm
from .models import ModelEntry, ModelKind
from .services import model_register, model_register_endpoint

# What a probe of a newly registered endpoint found, for the admin (playground.endpoints.probe).
ENDPOINT_STATES = {
    "down": _lazy("it cannot be reached"),
    "timeout": _lazy("it did not answer in time"),
    "auth": _lazy("it refused the API key"),
    "no_key": _lazy("the API key's variable or file is not set on this web host"),
    "model_missing": _lazy("it does not list the served model name"),
    "error": _lazy("it answered with an error"),
}


def _register(request, form, service, message):
    """Run `service` on a valid form; its ValidationError lands on the form's fields."""
    try:
        entry = service(created_by=request.user, origin=Origin.from_request(request), **form.cleaned_data)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
        return None
    messages.success(request, message % {"name": entry.name})
    if entry.kind == ModelKind.ENDPOINT:
        # Registered either way (the server may start later), but the admin hears at once.
        state = async_to_sync(probe)(EndpointConfig.from_entry(entry))["state"]
        if state != "up":
            messages.warning(request, _("Endpoint %(name)s does not work yet: %(why)s. Employees who pick it get "
                                        "an error saying so.") % {"name": entry.name, "why": ENDPOINT_STATES[state]})
    return redirect("curation")


@role_required(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def curation(request):
    which = request.POST.get("form", "path") if request.method == "POST" else None
    form = ModelRegisterForm(request.POST if which == "path" else None)
    endpoint_form = EndpointRegisterForm(request.POST if which == "endpoint" else None)
    if which == "path" and form.is_valid():
        done = _register(request, form, model_register,
                         _("Model %(name)s registered. Restart the model workers to load it."))
        if done:
            return done
    if which == "endpoint" and endpoint_form.is_valid():
        done = _register(request, endpoint_form, model_register_endpoint,
                         _("Endpoint %(name)s registered: employees can use it now."))
        if done:
            return done
    return render(request, "playground/curation.html", {
        "form": form,
        "endpoint_form": endpoint_form,
        "models": ModelEntry.objects.select_related("endpoint"),
        "user_counts": {role.label: User.objects.filter(role=role.value, is_active=True).count() for role in Role},
        "teams": Team.objects.prefetch_related("managers").all(),
    })
