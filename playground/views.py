from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render

from accounts.models import Role
from core.permissions import role_required

from .endpoint_stream import unavailable_notice
from .ml.limits import MAX_PROMPT_CHARS
from .models import ModelKind, PlaygroundRun
from .params import MODES, PARAMS, ParamError, validate_start
from .selectors import (
    causal_models_usable_by,
    model_is_endpoint,
    model_usable_by,
    models_usable_by,
    run_visible_to,
    runs_for_user,
)

VIEWS = ("generation", "probabilities", "attention")


def _preset(request, models) -> tuple[dict, list[str]]:
    """Initial form values from the query string (lessons' "Try it" links use it).

    A bad value falls back to its default and is reported, so a stale link still opens.
    """
    query = request.GET
    notes = []
    names = [m.name for m in models]
    preset = {"model": names[0] if names else "", "mode": "completion", "view": "generation",
              "prompt": "", "params": {name: spec[3] for name, spec in PARAMS.items()}}
    if query.get("model"):
        if query["model"] in names:
            preset["model"] = query["model"]
        else:
            notes.append(f"Model {query['model']!r} is not available here; using {preset['model']}.")
    if query.get("mode") in MODES:
        preset["mode"] = query["mode"]
    if query.get("view") in VIEWS:
        preset["view"] = query["view"]
    preset["prompt"] = query.get("prompt", "")[:MAX_PROMPT_CHARS]
    for name, (kind, *_rest) in PARAMS.items():
        if query.get(name, "") == "":
            continue
        try:
            value = kind(float(query[name]))
            validate_start({"model": "x", "prompt": "x", "params": {name: value}})
        except (ValueError, ParamError):
            notes.append(f"Ignored {name}={query[name]!r}: out of range.")
            continue
        preset["params"][name] = value
    return preset, notes


@role_required(Role.EMPLOYEE)
def index(request):
    models = list(causal_models_usable_by(user=request.user))
    preset, notes = _preset(request, models)
    all_models = models_usable_by(user=request.user)
    # A lesson's tokens Try-it opens the tokenizer card on its model and text (?tok_model=&tok_text=).
    tokenizer = {"model": request.GET.get("tok_model", ""), "text": request.GET.get("tok_text", "")[:MAX_PROMPT_CHARS]}
    return render(request, "playground/index.html", {
        "models": models, "all_models": all_models, "preset": preset, "notes": notes, "tokenizer": tokenizer,
        "param_specs": PARAMS, "recent": runs_for_user(user=request.user, limit=8),
    })


@role_required(Role.EMPLOYEE)
def runs(request):
    return render(request, "playground/runs.html", {"runs": runs_for_user(user=request.user, limit=200)})


@role_required(Role.EMPLOYEE)
def run_detail(request, public_id):
    run = get_object_or_404(PlaygroundRun.objects.select_related("user"), public_id=public_id)
    if not run_visible_to(user=request.user, run=run):
        raise PermissionDenied
    is_endpoint = model_is_endpoint(name=run.model_name)
    return render(request, "playground/run.html", {
        "run": run, "is_owner": run.user_id == request.user.pk,
        "is_endpoint": is_endpoint, "endpoint_notice": unavailable_notice() if is_endpoint else "",
        # A manager reads an employee's run, but their fine-tune stays theirs to use.
        "can_use_model": model_usable_by(user=request.user, name=run.model_name)})


COMPARE_MINE = "mine"


@role_required(Role.EMPLOYEE)
def compare(request):
    """The same prompt on two language models side by side (SmolLM2 and an endpoint model,
    by default): `?a=<model>&b=<model>` preselects them (`b=mine`: the viewer's newest
    fine-tune), `?prompt=` and `?mode=` fill in the form."""
    models = list(causal_models_usable_by(user=request.user))
    names = [m.name for m in models]
    endpoints = [m.name for m in models if m.kind == ModelKind.ENDPOINT]
    first = names[0] if names else ""
    second = endpoints[0] if endpoints else (names[1] if len(names) > 1 else first)
    chosen = {side: request.GET.get(side) if request.GET.get(side) in names else default
              for side, default in (("a", first), ("b", second))}
    # ?b=mine (a lesson's Try it): the learner's own newest fine-tune, which only they may use.
    own = [m for m in models if m.owner_id == request.user.pk]
    no_finetune = request.GET.get("b") == COMPARE_MINE and not own
    if request.GET.get("b") == COMPARE_MINE and own:
        chosen["b"] = max(own, key=lambda m: (m.created_at, m.pk)).name
    mode = request.GET.get("mode") if request.GET.get("mode") in MODES else "chat"
    prompt = request.GET.get("prompt", "")[:MAX_PROMPT_CHARS]
    return render(request, "playground/compare.html", {"models": models, "chosen": chosen, "mode": mode,
                                                       "prompt": prompt, "no_finetune": no_finetune})
