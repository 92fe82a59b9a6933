"""WebSocket interface of the playground; the protocol is in docs/PROTOCOL.md.

The consumer validates and relays: requests go to the model workers over the
channel layer, and their replies come back to this consumer's channel. It never
runs a model, and it handles each message quickly (no generation loop here).
"""

import asyncio
import uuid

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Role
from core.permissions import has_role

from .models import finish_reason_text
from .params import ParamError, validate_start
from .selectors import model_usable_by
from .services import RunLimitReached, run_create, run_fail
from .worker import requests_channel

MAX_TOKENIZE_CHARS = 20_000
# If no worker accepts a request within this time, the employee hears so.
WORKER_ACCEPT_TIMEOUT = 15.0


def socket_language(scope) -> str:
    """The language the page chose (Django's language cookie), for what the socket says."""
    code = scope.get("cookies", {}).get(settings.LANGUAGE_COOKIE_NAME) or settings.LANGUAGE_CODE
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return settings.LANGUAGE_CODE


class PlaygroundConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not has_role(user, Role.EMPLOYEE):
            # Closing before accept rejects the handshake (HTTP 403).
            await self.close()
            return
        self.generation = None  # {"request_id", "run_id", "worker_channel", "stop_requested"}
        self.watchdog = None
        self.language = socket_language(self.scope)
        await self.accept()

    async def disconnect(self, code):
        # Closing the tab ends the generation and frees its slot.
        await self.stop_generation()

    async def receive_json(self, content, **kwargs):
        # Errors (and the watchdog started from here) speak the employee's language.
        with translation.override(self.language):
            await self._receive(content)

    async def _receive(self, content):
        if not isinstance(content, dict):
            await self.send_error("bad_request", _("Each message must be a JSON object."))
            return
        kind = content.get("type")
        handler = {"start": self.on_start, "stop": self.on_stop, "tokenize": self.on_tokenize}.get(kind)
        if handler is None:
            await self.send_error("bad_request", _("Unknown message type %(kind)r.") % {"kind": kind}, content.get("request_id"))
            return
        await handler(content)

    # --- start / stop -----------------------------------------------------------------
    async def on_start(self, content):
        request_id = content.get("request_id") or uuid.uuid4().hex
        if self.generation is not None:
            await self.send_error("already_running", _("A generation is already running here; stop it first."), request_id)
            return
        try:
            clean = validate_start(content)
        except ParamError as exc:
            await self.send_error(exc.code, str(exc), request_id)
            return
        if not await database_sync_to_async(model_usable_by)(user=self.scope["user"], name=clean["model"]):
            await self.send_error("unknown_model", _("There is no model %(model)r you can use.") % {"model": clean["model"]},
                                  request_id)
            return
        try:
            run = await database_sync_to_async(run_create)(user=self.scope["user"], **{
                "model_name": clean["model"], "mode": clean["mode"], "prompt": clean["prompt"], "params": clean["params"]})
        except RunLimitReached as exc:
            await self.send_error(exc.code, str(exc), request_id)
            return
        self.generation = {"request_id": request_id, "run_id": run.pk, "public_id": str(run.public_id),
                           "worker_channel": None, "stop_requested": False}
        await self.channel_layer.send(requests_channel(), {
            "type": "gen.start", "reply_to": self.channel_name, "request_id": request_id, "run_id": run.pk, **clean,
            "language": self.language,
        })
        self.watchdog = asyncio.create_task(self._expect_worker(request_id))

    async def _expect_worker(self, request_id):
        await asyncio.sleep(WORKER_ACCEPT_TIMEOUT)
        gen = self.generation
        if gen and gen["request_id"] == request_id and gen["worker_channel"] is None:
            self.generation = None
            await database_sync_to_async(run_fail)(run_id=gen["run_id"], code="no_worker",
                                                   message="No model worker answered.")
            await self.send_error(
                "no_worker", _("No model worker answered; the model may still be loading. Try again shortly."), request_id)

    async def on_stop(self, content):
        if self.generation is None:
            await self.send_error("not_running", _("Nothing is running."), content.get("request_id"))
            return
        await self.stop_generation()

    async def stop_generation(self):
        gen = getattr(self, "generation", None)
        if gen is None:
            return
        gen["stop_requested"] = True
        if gen["worker_channel"]:
            await self.channel_layer.send(gen["worker_channel"], {"type": "gen.stop", "request_id": gen["request_id"]})

    # --- tokenizer ----------------------------------------------------------------------
    async def on_tokenize(self, content):
        text, model = content.get("text"), content.get("model")
        if not isinstance(text, str) or not isinstance(model, str):
            await self.send_error("bad_request", _("tokenize needs a text and a model (strings)."), content.get("request_id"))
            return
        if len(text) > MAX_TOKENIZE_CHARS:
            await self.send_error("too_long", _("Text is limited to %(n)s characters.") % {"n": MAX_TOKENIZE_CHARS},
                                  content.get("request_id"))
            return
        await self.channel_layer.send(requests_channel(), {
            "type": "tokenize", "reply_to": self.channel_name,
            "request_id": content.get("request_id") or uuid.uuid4().hex, "model": model, "text": text,
        })

    async def send_error(self, code, message, request_id=None):
        await self.send_json({"type": "error", "code": code, "message": message, "request_id": request_id})

    # --- replies from the model worker (channel layer handlers) ------------------------
    def _current(self, event) -> dict | None:
        gen = self.generation
        return gen if gen is not None and gen["request_id"] == event.get("request_id") else None

    async def gen_started(self, event):
        gen = self._current(event)
        if gen is None:
            return
        gen["worker_channel"] = event["worker_channel"]
        if gen["stop_requested"]:  # Stop was pressed before the worker accepted
            await self.channel_layer.send(gen["worker_channel"], {"type": "gen.stop", "request_id": gen["request_id"]})
        await self.send_json({"type": "started", "request_id": gen["request_id"], "run": gen["public_id"],
                              "prompt_tokens": event["prompt_tokens"], "worker": event["worker"]})

    async def gen_tokens(self, event):
        if self._current(event) is None:
            return
        for token in event["tokens"]:
            await self.send_json({**token, "request_id": event["request_id"]})

    async def gen_done(self, event):
        gen = self._current(event)
        if gen is None:
            return
        self.generation = None
        with translation.override(self.language):
            label = finish_reason_text(event.get("finish_reason", ""))
        await self.send_json({**event, "type": "done", "run": gen["public_id"], "finish_label": label})

    async def tokenize_result(self, event):
        await self.send_json(
            {"type": "tokens", "model": event["model"], "tokens": event["tokens"], "request_id": event.get("request_id")}
        )

    async def worker_error(self, event):
        gen = self._current(event)
        if gen is not None:
            self.generation = None
        await self.send_error(event["code"], event["message"], event.get("request_id"))
