"""The layer view (logit lens) and switch-off experiments: pages and their JSON, thin views
that ask a model worker (`lens` requests, playground/worker_lens.py). Nothing is computed here.

Who may look: every active person (core.policy.may_learn), on a model they may use (shared,
or their own fine-tune: core.policy.models_usable_by) and a saved run they may see. A run on
someone else's fine-tune is refused even to a manager who may read the run: the fine-tune
stays its owner's to use, as on the run page.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from core import policy

from .attention_views import ERROR_STATUS as ATTENTION_STATUS
from .attention_views import MAX_TEXT_CHARS, SourceError, _int, run_source, visible_run
from .client import ask_worker, error_text, lens_request
from .models import ModelEntry, ModelKind
from .selectors import causal_models_usable_by, model_usable_by

WORKER_TIMEOUT = 30.0  # seconds to wait for a model worker's answer
# The attention view's answers, plus the layer view's own refusals.
ERROR_STATUS = {**ATTENTION_STATUS, "internal": 500, "lens_endpoint": 409, "lens_not_causal": 409}
# A first visit opens on the lesson 3 example, following " Paris".
EXAMPLE = {"text": "The capital of France is", "token": " Paris"}
# Lesson 2's switch-off experiments (courseapp/content/.../02-transformer-attention): same text, same token.
IT_TEXT = "The animal didn't cross the street because it was too tired. The word \"it\" refers to the"


def presets() -> list[dict]:
    return [
        {"id": "head-13-8", "label": _("Switch off head 13.8 and watch P(' animal') after \"refers to the\""),
         "text": IT_TEXT, "token": " animal", "ablate": "13.8", "mode": "zero"},
        {"id": "attn-13", "label": _("Switch off all of layer 13's attention"),
         "text": IT_TEXT, "token": " animal", "ablate": "13.attn", "mode": "zero"},
        {"id": "mlp-13", "label": _("Switch off layer 13's MLP"),
         "text": IT_TEXT, "token": " animal", "ablate": "13.mlp", "mode": "zero"},
        {"id": "head-13-8-mean", "label": _("Head 13.8 replaced by its mean over the prompt"),
         "text": IT_TEXT, "token": " animal", "ablate": "13.8", "mode": "mean"},
    ]


def _usable_causal(user, name: str) -> None:
    """Refuse a model the user may not use, an endpoint, or an encoder, each saying why."""
    if not model_usable_by(user=user, name=name):
        raise SourceError("unknown_model", _("There is no model %(model)r you can use.") % {"model": name})
    kind = ModelEntry.objects.filter(name=name).values_list("kind", flat=True).first()
    if kind == ModelKind.ENDPOINT:
        raise SourceError("lens_endpoint", _(
            "The layer view and switch-offs read the model's hidden states and change its heads, and %(model)s is "
            "served by an inference endpoint, which holds its weights and returns only text. Pick a model our "
            "workers hold, such as SmolLM2.") % {"model": name})
    if kind != ModelKind.CAUSAL_LM:
        raise SourceError("lens_not_causal", error_text("lens_not_causal", {"model": name}))


def lens_source(user, query) -> dict:
    """What to look at: a saved run the user may see (on a model they may use), or a text."""
    if query.get("run"):
        run = visible_run(user, query["run"])
        model = query.get("as") or run.model_name  # ?as=: the run's tokens on another model (beside it)
        if not model_usable_by(user=user, name=model):
            raise SourceError("forbidden", _("That run's model is not one you may use: a fine-tune is its owner's alone."))
        _usable_causal(user, model)
        return {**run_source(run), "model": model}
    text, model = query.get("text", ""), query.get("model", "")
    if not text.strip():
        raise SourceError("bad_request", _("Type a text, or open a saved run."))
    if len(text) > MAX_TEXT_CHARS:
        raise SourceError("too_long", _("Texts for the layer view are limited to %(n)s characters.")
                          % {"n": MAX_TEXT_CHARS})
    _usable_causal(user, model)
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return {"model": model, "key": f"text:{digest}", "label": text, "text": text}


def _compare_model(user, query) -> str:
    name = query.get("compare", "")
    if name:
        _usable_causal(user, name)
    return name


def _error(code, message):
    return JsonResponse({"error": {"code": code, "message": message}}, status=ERROR_STATUS.get(code, 400))


async def _ask(request, op: str, fields) -> JsonResponse:
    user = await request.auser()
    if not policy.may_learn(user):
        return _error("forbidden", _("Sign in to use the playground."))
    try:
        source = await sync_to_async(lens_source)(user, request.GET)
        extra = fields(request.GET)
    except SourceError as exc:
        return _error(exc.code, str(exc))
    source.pop("label")
    reply = await ask_worker(lens_request(op=op, source=source, **extra), timeout=WORKER_TIMEOUT)
    if reply["type"] != "lens.result":
        return _error(reply["code"], error_text(reply["code"], reply.get("params")))
    reply.pop("type")
    reply.pop("stream", None)
    return JsonResponse(reply)


def _grid_fields(query) -> dict:
    fields = {"token": query.get("token", "")}
    for name in ("from", "to"):
        value = _int(query.get(name), name)
        if value is not None:
            fields[name] = value
    return fields


def _ablate_fields(query) -> dict:
    position = _int(query.get("position"), "position")
    return {"token": query.get("token", ""), "ablate": query.get("ablate", "")[:500],
            "mode": query.get("mode", "zero"), "position": -1 if position is None else position}


async def lens_grid(request):
    """JSON: the logit lens, layers ?from=..?to= (all by default), and ?token='s rank per layer."""
    return await _ask(request, "grid", _grid_fields)


async def lens_ablate(request):
    """JSON: the next-token distribution with ?ablate= switched off (?mode=zero|mean), beside the original."""
    return await _ask(request, "ablate", _ablate_fields)


def _strings() -> dict:
    """Words the page's script needs, in the page's language."""
    return {
        "layer": _("Layer"), "position": _("Position"), "loading": _("Loading…"),
        "final": _("The model's answer here: %(token)s. It first reaches the top at layer %(layer)s."),
        "pick_first": _("%(token)s is top-1 first at layer %(layer)s."),
        "pick_never": _("%(token)s never reaches the top at this position."),
        "rank": _("rank"), "probability": _("probability"), "differs": _("top-1 differs from the other model"),
        "before": _("Original"), "after": _("Switched off"),
        "change": _("P(%(token)s): %(before)s → %(after)s (%(change)s percentage points)"),
        "grid_label": _("Layer-by-layer predictions: rows are layers, columns positions. Each cell shows the top "
                        "token if the model stopped after that layer."),
        "cell": _("After layer %(layer)s, at %(token)s, the model would predict:"),
        "ms": _("answered in %(ms)s ms"), "zero": _("zero"), "mean": _("mean over the prompt"),
    }


def _page_context(request) -> tuple[dict, int]:
    query = request.GET
    context = {"source": None, "error": None, "compare": "", "token": query.get("token", ""),
               "ablate": query.get("ablate", ""), "mode": query.get("mode", "zero"),
               "panel": query.get("panel", "grid"), "presets": presets(), "strings": _strings(),
               "max_tokens": settings.LLM_LENS_MAX_TOKENS, "query": ""}
    status = 200
    if "run" in query or "text" in query:  # an emptied text is told what to do
        try:
            source = lens_source(request.user, query)
            context["compare"] = _compare_model(request.user, query)
            context["source"] = source
            data = {k: query[k] for k in ("run", "model", "text") if query.get(k)}
            context["query"] = urlencode(data)
            if context["compare"]:
                context["compare_query"] = urlencode({"model": context["compare"], "text": source["text"]}
                                                     if "text" in source else {**data, "as": context["compare"]})
        except SourceError as exc:
            context["error"], status = str(exc), ERROR_STATUS.get(exc.code, 400)
    context["full_url"] = reverse("playground:lens") + "?" + query.urlencode()
    return context, status


def lens_page(request):
    """The layer view and the switch-off panel, for a text, a saved run, and beside a second model."""
    if not policy.may_learn(request.user):
        raise PermissionDenied
    models = list(causal_models_usable_by(user=request.user))
    if not any(request.GET.get(key) for key in ("run", "model")) and models:
        # No model named (a bare visit, or a text from a link): the default model, and on a
        # bare visit the example straight away rather than an empty page.
        names = [m.name for m in models]
        default = settings.LLM_DEFAULT_MODELS[ModelKind.CAUSAL_LM]
        query = request.GET.copy()
        query["model"] = default if default in names else names[0]
        if not request.GET.get("text"):
            query.update(EXAMPLE)
        return redirect(f"{request.path}?{query.urlencode()}")
    context, status = _page_context(request)
    context.update({"models": models, "model": request.GET.get("model", ""), "text": request.GET.get("text", ""),
                    "run": request.GET.get("run", "")})
    return render(request, "playground/lens.html", context, status=status)


@xframe_options_sameorigin  # lessons frame it under their text
def lens_embed(request):
    """Just the layer view or the switch-off panel (?panel=ablate), for a lesson to embed."""
    if not policy.may_learn(request.user):
        raise PermissionDenied
    context, status = _page_context(request)
    context["embed"] = True  # one panel: the grid, or the switch-offs (?panel=ablate)
    return render(request, "playground/lens_embed.html", context, status=status)
