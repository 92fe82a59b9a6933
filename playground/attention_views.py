"""Attention pages and their data: thin async views that ask a model worker.

Data comes one layer (or one head) at a time as uint8 weights; the bertviz views come
as a script served from our origin, so the page's strict CSP stays intact.
"""

import hashlib
import json

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_sameorigin

from accounts.models import Role
from core.permissions import has_role

from .client import ask_worker, error_text
from .models import ModelKind, PlaygroundRun
from .selectors import model_is_endpoint, model_usable_by, models_usable_by, run_visible_to

MAX_TEXT_CHARS = 5_000
# A first visit shows this sentence at once: "it" attends to "animal" in several heads.
EXAMPLE_TEXT = "The animal didn't cross the street because it was too tired."
WORKER_TIMEOUT = 30.0  # seconds to wait for a model worker's answer
ERROR_STATUS = {"forbidden": 403, "not_found": 404, "no_worker": 503, "model_not_available": 503}


class SourceError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def _int(value, name):
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise SourceError("bad_request", _("%(name)s must be a whole number.") % {"name": name}) from exc


def _opening(query) -> tuple[dict, str]:
    """The layer and head a heatmap opens on (?layer=, ?head=, as a lesson's try-it sets
    them), and the query for its data requests, without them: those ask for every head
    of a layer and choose the layer themselves."""
    opening = {}
    for name in ("layer", "head"):
        value = _int(query.get(name), name)
        if value is not None and value < 0:
            raise SourceError("bad_request", _("%(name)s must be 0 or more.") % {"name": name})
        opening[name] = value
    data_query = query.copy()
    for name in opening:
        data_query.pop(name, None)
    return opening, data_query.urlencode()


def visible_run(user, public_id: str) -> PlaygroundRun:
    """A saved run with tokens that `user` may see, or a SourceError saying why not."""
    run = PlaygroundRun.objects.select_related("user").filter(public_id=public_id).first() \
        if _is_uuid(public_id) else None
    if run is None:
        raise SourceError("not_found", _("There is no such run."))
    if not run_visible_to(user=user, run=run):
        raise SourceError("forbidden", _("That run belongs to someone else."))
    if not run.tokens:
        raise SourceError("bad_request", _("That run produced no tokens yet."))
    return run


def run_source(run: PlaygroundRun) -> dict:
    """What a model worker needs to rebuild a run's ids: its prompt, mode and generated tokens."""
    return {"model": run.model_name, "key": f"run:{run.public_id}", "label": run.prompt,
            "run": {"prompt": run.prompt, "mode": run.mode, "generated": [t["id"] for t in run.tokens]}}


def _source(user, query) -> dict:
    """What to look at: a saved run the user may see, or free text on a model they may use."""
    if query.get("run"):
        run = visible_run(user, query["run"])
        _not_on_an_endpoint(run.model_name)
        return run_source(run)
    text, model = query.get("text", ""), query.get("model", "")
    if not text.strip():
        raise SourceError("bad_request", _("Type a text, or open a saved run."))
    if len(text) > MAX_TEXT_CHARS:
        raise SourceError("too_long", _("Texts for attention are limited to %(n)s characters.") % {"n": MAX_TEXT_CHARS})
    if not model_usable_by(user=user, name=model):
        raise SourceError("unknown_model", _("There is no model %(model)r you can use.") % {"model": model})
    _not_on_an_endpoint(model)
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    return {"model": model, "key": f"text:{digest}", "label": text, "text": text}


def _not_on_an_endpoint(model):
    if model_is_endpoint(name=model):
        raise SourceError("endpoint_no_attention", _(
            "Attention needs the model's weights, and %(model)s is served by an inference endpoint, which alone "
            "holds them. Try SmolLM2 for attention.") % {"model": model})


def _is_uuid(value):
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _error(code, message):
    return JsonResponse({"error": {"code": code, "message": message}}, status=ERROR_STATUS.get(code, 400))


async def _allowed(request):
    user = await request.auser()
    return user if await sync_to_async(has_role)(user, Role.EMPLOYEE) else None


async def attention_data(request):
    """JSON: one layer's weights for all heads, or one head (?head=)."""
    user = await _allowed(request)
    if user is None:
        return _error("forbidden", "Employees only.")
    try:
        source = await sync_to_async(_source)(user, request.GET)
        layer, head = _int(request.GET.get("layer", "0"), "layer"), _int(request.GET.get("head"), "head")
    except SourceError as exc:
        return _error(exc.code, str(exc))
    reply = await ask_worker({"type": "attention", "view": "layer", "layer": layer, "head": head,
                              **{k: v for k, v in source.items() if k != "label"}}, timeout=WORKER_TIMEOUT)
    if reply["type"] != "attention.result":
        return _error(reply["code"], error_text(reply["code"], reply.get("params")))
    reply.pop("type")
    reply.pop("stream", None)
    return JsonResponse(reply)


async def bertviz_script(request, view):
    """JavaScript that draws bertviz's head or model view into #bertviz-root."""
    if view not in ("head", "model"):
        raise Http404
    user = await _allowed(request)
    if user is None:
        return _js_error("Employees only.", 403)
    try:
        source = await sync_to_async(_source)(user, request.GET)
        first = _int(request.GET.get("from", "0"), "from") or 0
    except SourceError as exc:
        return _js_error(str(exc), ERROR_STATUS.get(exc.code, 400))
    include = list(range(first, first + settings.LLM_BERTVIZ_MAX_LAYERS))
    reply = await ask_worker({"type": "attention", "view": view, "include_layers": include,
                              "static_base": static("vendor/bertviz/x")[:-1],
                              **{k: v for k, v in source.items() if k != "label"}}, timeout=WORKER_TIMEOUT)
    if reply["type"] != "attention.result":
        return _js_error(error_text(reply["code"], reply.get("params")), ERROR_STATUS.get(reply["code"], 400))
    body = (f"document.getElementById('bertviz-root').innerHTML = {json.dumps(reply['markup'])};\n"
            f"{reply['script']}\n")
    return HttpResponse(body, content_type="text/javascript; charset=utf-8")


def _js_error(message, status):
    body = (f"(function(){{var el=document.getElementById('bertviz-status');"
            f"el.textContent={json.dumps(message)};el.classList.add('error');}})();")
    return HttpResponse(body, content_type="text/javascript; charset=utf-8", status=status)


@xframe_options_sameorigin  # lessons frame it under their text
def attention_embed(request):
    """Just the heatmap, for a lesson to embed."""
    if not has_role(request.user, Role.EMPLOYEE):
        raise PermissionDenied
    error, source, status, opening, data_query = None, None, 200, {}, ""
    query = request.GET.copy()
    query["view"] = "heatmap"
    try:
        opening, data_query = _opening(query)
        source = _source(request.user, request.GET)
    except SourceError as exc:
        error, status = str(exc), ERROR_STATUS.get(exc.code, 400)
    return render(request, "playground/attention_embed.html", {
        "source": source, "error": error, "query": data_query, "opening": opening,
        "full_url": reverse("playground:attention") + "?" + query.urlencode(),
    }, status=status)


def attention_page(request):
    """The attention explorer: heatmap, bertviz head view or model view of a run or a text."""
    if not has_role(request.user, Role.EMPLOYEE):
        raise PermissionDenied
    view = request.GET.get("view", "heatmap")
    if view not in ("heatmap", "head", "model"):
        view = "heatmap"
    models = models_usable_by(user=request.user).filter(kind__in=[ModelKind.CAUSAL_LM, ModelKind.ENCODER])
    if not any(key in request.GET for key in ("run", "text", "model")) and models:
        # A bare visit: show the example straight away rather than an empty page.
        names = [m.name for m in models]
        query = request.GET.copy()
        query["view"] = view
        example = settings.LLM_DEFAULT_MODELS[ModelKind.ENCODER]
        query["model"] = example if example in names else names[0]
        query["text"] = EXAMPLE_TEXT
        return redirect(f"{request.path}?{query.urlencode()}")
    # A refusal or a bad request keeps the page (the form to try again) with its status:
    # never 200 with an error text.
    error, source, status, opening, data_query = None, None, 200, {}, ""
    query = request.GET.copy()
    if "run" in request.GET or "text" in request.GET:  # an emptied text is told what to do
        try:
            query["view"] = view
            opening, data_query = _opening(query)
            source = _source(request.user, request.GET)
        except SourceError as exc:
            error, status = str(exc), ERROR_STATUS.get(exc.code, 400)
    tabs = []
    for name, label in (("heatmap", _("Heatmap")), ("head", _("bertviz head view")),
                        ("model", _("bertviz model view"))):
        query["view"] = name
        tabs.append({"name": name, "label": label, "url": "?" + query.urlencode(), "active": name == view})
    query["view"] = view
    return render(request, "playground/attention.html", {
        "view": view, "source": source, "error": error, "models": models, "tabs": tabs, "query": data_query,
        "opening": opening,
        "text": request.GET.get("text", ""), "model": request.GET.get("model", settings.LLM_DEFAULT_MODELS[ModelKind.ENCODER]),
        "run": request.GET.get("run", ""), "first_layer": request.GET.get("from", "0"),
        "caps": {"heatmap": settings.LLM_ATTENTION_MAX_TOKENS, "head": settings.LLM_BERTVIZ_HEAD_MAX_TOKENS,
                 "model": settings.LLM_BERTVIZ_MODEL_MAX_TOKENS},
    }, status=status)
