"""WebSocket interface of the playground; the protocol is in docs/PROTOCOL.md.

The consumer validates and relays: requests go to the model workers through
`playground.client`, and their replies come back to this consumer's channel. It never
runs a model, and it handles each message quickly (no generation loop here).

Every stream is keyed by an id this consumer makes; a client's `request_id` is only
echoed back, so nothing one socket sends can reach another socket's generation.
Every frame gets an answer, and the socket stays open.
"""

import asyncio
import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Role
from core.permissions import has_role

from . import client
from .endpoint_stream import EndpointGeneration
from .ml.limits import MAX_PROMPT_CHARS
from .models import RunStatus, finish_reason_text
from .params import ParamError, validate_start
from .selectors import endpoint_config, model_usable_by
from .services import RunLimitReached, run_cancel_unclaimed, run_check_alive, run_create, run_fail

MAX_TOKENIZE_CHARS = MAX_PROMPT_CHARS  # the tokenizer box takes what a prompt may hold
MAX_FRAME_BYTES = 256 * 1024  # a 20,000-character prompt in any script fits with room to spare
MAX_DEPTH = 8  # the deepest a valid message goes is 3 (start → params → value)
MAX_REQUEST_ID_CHARS = 200
MAX_PENDING_TOKENIZE = 16
# While a generation is silent this long, check that its worker is alive.
SILENCE_SECONDS = 2.0


def socket_language(scope) -> str:
    """The language the page chose (Django's language cookie), for what the socket says."""
    code = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME) or settings.LANGUAGE_CODE
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return settings.LANGUAGE_CODE


def _depth(value, limit: int, level: int = 1) -> int:
    """How deep a decoded JSON value nests (stops counting past `limit`)."""
    if level > limit or not isinstance(value, (dict, list)):
        return level
    children = value.values() if isinstance(value, dict) else value
    return max((_depth(v, limit, level + 1) for v in children), default=level)


class PlaygroundConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not has_role(user, Role.EMPLOYEE):
            # Closing before accept rejects the handshake (HTTP 403).
            await self.close()
            return
        # {"stream", "request_id", "run_id", "public_id", "worker_channel", "stop_requested", "tokens", "heard_at"}
        self.generation = None
        self.tokenizing: dict[str, object] = {}  # stream → the client's request_id
        self.watchdog = None
        self.language = socket_language(self.scope)
        # A deactivation reaches this socket through the person's group (user_deactivated).
        self.user_group = client.user_group(user.pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        # Closing the tab ends the generation and frees its slot.
        await self.stop_generation(leaving=True)
        if getattr(self, "watchdog", None) is not None:
            self.watchdog.cancel()
        if getattr(self, "user_group", None):
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    async def user_deactivated(self, event):
        """The person was deactivated (accounts.services.user_deactivate): stop their
        generation through the usual stop path, say why, and close."""
        gen = self.generation
        await self.stop_generation(leaving=True)
        await self.send_error("account_deactivated", client.error_text("account_deactivated", None, self.language),
                              gen["request_id"] if gen else None)
        self.generation = None
        await self.close(code=4403)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Every frame gets an answer: a frame that is not a small JSON object gets an error."""
        with translation.override(self.language):
            if text_data is None:
                await self.send_error("bad_frame", _("Send text frames holding JSON; binary frames are not read."))
                return
            if len(text_data) > MAX_FRAME_BYTES or len(text_data.encode("utf-8", "replace")) > MAX_FRAME_BYTES:
                await self.send_error("too_large", _("A message may be at most %(n)s bytes.") % {"n": MAX_FRAME_BYTES})
                return
            try:
                content = json.loads(text_data)
            except RecursionError:
                await self.send_error("too_deep", _("A message may nest at most %(n)s levels.") % {"n": MAX_DEPTH})
                return
            except ValueError:
                await self.send_error("bad_request", _("Each message must be a JSON object."))
                return
            if _depth(content, MAX_DEPTH) > MAX_DEPTH:
                await self.send_error("too_deep", _("A message may nest at most %(n)s levels.") % {"n": MAX_DEPTH})
                return
            await self._receive(content)

    async def _receive(self, content):
        if not isinstance(content, dict):
            await self.send_error("bad_request", _("Each message must be a JSON object."))
            return
        request_id = content.get("request_id")
        if request_id is not None and not (
            (isinstance(request_id, str) and len(request_id) <= MAX_REQUEST_ID_CHARS)
            or (isinstance(request_id, int) and not isinstance(request_id, bool) and abs(request_id) < 2**53)
        ):
            await self.send_error("bad_request", _("request_id must be a string of at most %(n)s characters.")
                                  % {"n": MAX_REQUEST_ID_CHARS})
            return
        kind = content.get("type")
        kind = kind if isinstance(kind, str) and len(kind) <= 40 else "…"
        handler = {"start": self.on_start, "stop": self.on_stop, "tokenize": self.on_tokenize}.get(kind)
        if handler is None:
            await self.send_error("bad_request", _("Unknown message type %(kind)r.") % {"kind": kind}, request_id)
            return
        await handler(content, request_id)

    # --- start / stop -----------------------------------------------------------------
    async def on_start(self, content, request_id):
        if self.generation is not None:
            await self.send_error("already_running", _("A generation is already running here; stop it first."), request_id)
            return
        try:
            clean = validate_start(content)
        except ParamError as exc:
            await self.send_error(exc.code, str(exc), request_id)
            return
        if not await database_sync_to_async(model_usable_by)(user=self.scope["user"], name=clean["model"]):
            await self.send_error("unknown_model", client.error_text("unknown_model", {"model": clean["model"]}),
                                  request_id)
            return
        try:
            run = await database_sync_to_async(run_create)(user=self.scope["user"], **{
                "model_name": clean["model"], "mode": clean["mode"], "prompt": clean["prompt"], "params": clean["params"]})
        except RunLimitReached as exc:
            await self.send_error(exc.code, str(exc), request_id)
            return
        stream = client.new_stream_id()
        self.generation = {"stream": stream, "request_id": request_id, "run_id": run.pk,
                           "public_id": str(run.public_id), "worker_channel": None, "stop_requested": False,
                           "tokens": [], "heard_at": time.monotonic()}
        endpoint = await database_sync_to_async(endpoint_config)(name=clean["model"])
        if endpoint is not None:  # an OpenAI-compatible endpoint: streamed from here (playground/endpoint_stream.py)
            self.generation["endpoint"] = EndpointGeneration(
                config=endpoint, run_id=run.pk, stream=stream, clean=clean, language=self.language,
                deliver=lambda event: getattr(self, event["type"].replace(".", "_"))(event))
            self.generation["endpoint"].start()
            return
        await self.channel_layer.send(client.requests_channel(), client.gen_start(
            reply_to=self.channel_name, stream=stream, run_id=run.pk, clean=clean))
        self.watchdog = asyncio.create_task(self._watch(stream))

    async def _watch(self, stream):
        """Tell the client at once when no worker takes the request, or its worker dies."""
        sent = time.monotonic()
        while True:
            await asyncio.sleep(1.0)
            gen = self.generation
            if gen is None or gen["stream"] != stream:
                return
            now = time.monotonic()
            if gen["worker_channel"] is None and now - sent > client.ACCEPT_TIMEOUT:
                if await database_sync_to_async(run_fail)(run_id=gen["run_id"], code="no_worker", unclaimed_only=True):
                    await self._end_with_error(gen, "no_worker")
                    return
            if now - gen["heard_at"] < SILENCE_SECONDS:
                continue
            status, reason = await database_sync_to_async(run_check_alive)(run_id=gen["run_id"])
            # A worker's own error (busy, a bad prompt) is on its way with its parameters.
            lost = reason in ("worker_lost", "no_worker", "expired") or now - gen["heard_at"] > 10 * SILENCE_SECONDS
            if status == RunStatus.ERROR and lost and self.generation is gen:
                await database_sync_to_async(run_fail)(run_id=gen["run_id"], code=reason, tokens=list(gen["tokens"]))
                await self._end_with_error(gen, reason or "worker_lost")
                return

    async def _end_with_error(self, gen, code, params=None):
        if self.generation is gen:
            self.generation = None
        await self.send_error(code, client.error_text(code, params, self.language), gen["request_id"])

    async def on_stop(self, content, request_id):
        if self.generation is None:
            await self.send_error("not_running", _("Nothing is running."), request_id)
            return
        await self.stop_generation()

    async def stop_generation(self, leaving=False):
        gen = getattr(self, "generation", None)
        if gen is None:
            return
        gen["stop_requested"] = True
        if gen.get("endpoint"):
            gen["endpoint"].stop()
        elif gen["worker_channel"]:
            await self.channel_layer.send(gen["worker_channel"], client.gen_stop(stream=gen["stream"]))
        elif leaving:
            # Nobody will read the stream: make sure no worker starts it.
            await database_sync_to_async(run_cancel_unclaimed)(run_id=gen["run_id"])

    # --- tokenizer ----------------------------------------------------------------------
    async def on_tokenize(self, content, request_id):
        text, model = content.get("text"), content.get("model")
        if not isinstance(text, str) or not isinstance(model, str):
            await self.send_error("bad_request", _("tokenize needs a text and a model (strings)."), request_id)
            return
        if len(text) > MAX_TOKENIZE_CHARS:
            await self.send_error("too_long", _("Text is limited to %(n)s characters.") % {"n": MAX_TOKENIZE_CHARS},
                                  request_id)
            return
        if not await database_sync_to_async(model_usable_by)(user=self.scope["user"], name=model):
            await self.send_error("unknown_model", client.error_text("unknown_model", {"model": model}, self.language),
                                  request_id)
            return
        if await database_sync_to_async(endpoint_config)(name=model) is not None:
            await self.send_error("endpoint_no_tokenizer", client.error_text("endpoint_no_tokenizer", None, self.language),
                                  request_id)
            return
        if len(self.tokenizing) >= MAX_PENDING_TOKENIZE:
            await self.send_error("busy", client.error_text("busy", None, self.language), request_id)
            return
        stream = client.new_stream_id()
        self.tokenizing[stream] = request_id
        await self.channel_layer.send(client.requests_channel(), client.tokenize_request(
            reply_to=self.channel_name, stream=stream, model=model, text=text))

    async def send_error(self, code, message, request_id=None):
        await self.send_json({"type": "error", "code": code, "message": message, "request_id": request_id})

    # --- replies from the model worker (channel layer handlers) ------------------------
    def _current(self, event) -> dict | None:
        gen = self.generation
        if gen is None or gen["stream"] != event.get("stream"):
            return None
        gen["heard_at"] = time.monotonic()
        return gen

    async def gen_started(self, event):
        gen = self._current(event)
        if gen is None:
            return
        gen["worker_channel"] = event["worker_channel"]
        if gen["stop_requested"] and gen["worker_channel"]:  # Stop was pressed before the worker accepted
            await self.channel_layer.send(gen["worker_channel"], client.gen_stop(stream=gen["stream"]))
        await self.send_json({"type": "started", "request_id": gen["request_id"], "run": gen["public_id"],
                              "prompt_tokens": event["prompt_tokens"], "worker": event["worker"],
                              **({"notice": event["notice"]} if event.get("notice") else {})})

    async def gen_tokens(self, event):
        gen = self._current(event)
        if gen is None:
            return
        gen["tokens"].extend(event["tokens"])
        for token in event["tokens"]:
            await self.send_json({**token, "request_id": gen["request_id"]})

    async def gen_done(self, event):
        gen = self._current(event)
        if gen is None:
            return
        self.generation = None
        with translation.override(self.language):
            label = finish_reason_text(event.get("finish_reason", ""))
        done = {k: v for k, v in event.items() if k != "stream"}
        await self.send_json({**done, "type": "done", "run": gen["public_id"], "finish_label": label,
                              "request_id": gen["request_id"]})

    async def tokenize_result(self, event):
        if event.get("stream") not in self.tokenizing:
            return
        request_id = self.tokenizing.pop(event["stream"])
        await self.send_json({"type": "tokens", "model": event["model"], "tokens": event["tokens"],
                              "request_id": request_id})

    async def worker_error(self, event):
        code, params = event["code"], event.get("params") or {}
        if event.get("stream") in self.tokenizing:
            request_id = self.tokenizing.pop(event["stream"])
            await self.send_error(code, client.error_text(code, params, self.language), request_id)
            return
        gen = self._current(event)
        if gen is not None:
            await self._end_with_error(gen, code, params)
