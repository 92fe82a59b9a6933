"""WebSocket interface of the playground; see docs/PROTOCOL.md.

The consumer only validates and relays: requests go to the model workers over
the channel layer, and their replies come back to this consumer's channel.
"""

import uuid

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.models import Role
from core.permissions import has_role

from .worker import requests_channel

MAX_TOKENIZE_CHARS = 20_000


class PlaygroundConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not has_role(user, Role.EMPLOYEE):
            # Closing before accept rejects the handshake (HTTP 403).
            await self.close()
            return
        await self.accept()

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self.send_error("bad_request", "Each message must be a JSON object.")
            return
        kind = content.get("type")
        if kind == "tokenize":
            await self.on_tokenize(content)
        else:
            await self.send_error("bad_request", f"Unknown message type {kind!r}.")

    async def on_tokenize(self, content):
        text, model = content.get("text"), content.get("model")
        if not isinstance(text, str) or not isinstance(model, str):
            await self.send_error("bad_request", "tokenize needs a text and a model (strings).")
            return
        if len(text) > MAX_TOKENIZE_CHARS:
            await self.send_error("too_long", f"Text is limited to {MAX_TOKENIZE_CHARS} characters.")
            return
        await self.channel_layer.send(
            requests_channel(),
            {
                "type": "tokenize",
                "reply_to": self.channel_name,
                "request_id": content.get("request_id") or uuid.uuid4().hex,
                "model": model,
                "text": text,
            },
        )

    async def send_error(self, code, message, request_id=None):
        await self.send_json({"type": "error", "code": code, "message": message, "request_id": request_id})

    # Replies from the model worker (channel layer handlers).
    async def tokenize_result(self, event):
        await self.send_json(
            {"type": "tokens", "model": event["model"], "tokens": event["tokens"], "request_id": event.get("request_id")}
        )

    async def worker_error(self, event):
        await self.send_error(event["code"], event["message"], event.get("request_id"))
