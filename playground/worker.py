"""The model worker: owns the loaded models and answers over the channel layer.

Consumers never run a model. They send requests to the shared requests channel
(settings.LLM_REQUESTS_CHANNEL)
(any worker may take one) and get replies on their own channel. Every worker also
joins WORKERS_GROUP, so /healthz can ask all of them what they have loaded.

In production each GPU runs one worker process (`manage.py model_worker`), reached
through Redis. In the embedded default the worker is an asyncio task inside the
ASGI server, sharing its in-memory channel layer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from training.artifacts import local_spec

from .ml.provision import CAUSAL_LM
from .selectors import model_spec_by_name, model_specs_enabled
from .services import run_fail, run_finish

logger = logging.getLogger(__name__)

# One channel-layer message carries at most this many coalesced token events
# (channels_redis caps a message near 1 MB; a token event is ~300 bytes).
MAX_TOKENS_PER_MESSAGE = 256

WORKERS_GROUP = "llm.workers"
GROUP_REFRESH_SECONDS = 300  # channels_redis expires group membership after a day


def requests_channel() -> str:
    """The channel every worker takes requests from (one worker gets each message)."""
    return settings.LLM_REQUESTS_CHANNEL


# What the Django-free model code says, in the employee's language (makemessages finds
# the fixed sentences here; PromptTooLong carries its numbers).
_ML_SENTENCES = (
    gettext_noop("This model has no chat template; use completion mode."),
    gettext_noop("The prompt is empty."),
    gettext_noop("The model is busy; try again in a moment."),
)


def _employee_text(exc: Exception, language: str | None) -> str:
    from .ml.prompts import PromptTooLong

    with translation.override(language or settings.LANGUAGE_CODE):
        if isinstance(exc, PromptTooLong):
            return gettext("The prompt is %(tokens)s tokens; the limit is %(limit)s. Shorten it and try again.") % {
                "tokens": exc.tokens, "limit": exc.limit}
        return gettext(str(exc))


class ModelWorker:
    def __init__(self, *, channel_layer=None, name: str = "", device_setting: str | None = None):
        self.layer = channel_layer or get_channel_layer()
        self.name = name or settings.LLM_WORKER_NAME or f"{socket.gethostname()}:{os.getpid()}"
        self.device_setting = device_setting or settings.LLM_DEVICE
        self.device = "unknown"
        self.started_at = time.time()
        self.state = "starting"  # starting → loading → ready (or failed)
        self.models: dict = {}  # name → LoadedModel
        self.failures: dict[str, str] = {}  # name → message
        self.channel = ""
        self.ready = asyncio.Event()
        self.engines: dict = {}  # name → BatchEngine, one per causal LM
        self.on_demand: list[str] = []  # employees' fine-tunes loaded on first use, least recent first
        self._load_locks: dict[str, asyncio.Lock] = {}
        self.twins: dict = {}  # name → eager-attention twin of the loaded model
        self.attention_cache = None
        self.streams: dict[str, _Stream] = {}  # request_id → where its events go

    # --- lifecycle -----------------------------------------------------------
    async def run(self):
        # Always the default "specific." prefix: channels_redis multiplexes every
        # process-specific channel of a process through one blocking pop, per prefix;
        # a second prefix in the same process would wait out the pop's 5 s timeout.
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(WORKERS_GROUP, self.channel)
        tasks = [
            asyncio.create_task(self._serve(self.channel), name="worker-private"),
            asyncio.create_task(self._refresh_group(), name="worker-group"),
            asyncio.create_task(self._load_all(), name="worker-load"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for engine in self.engines.values():
                engine.shutdown()
            try:
                await asyncio.shield(self.layer.group_discard(WORKERS_GROUP, self.channel))
            except Exception:  # shutting down anyway; the group entry expires by itself
                logger.debug("group_discard failed at shutdown", exc_info=True)

    async def _refresh_group(self):
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            await self.layer.group_add(WORKERS_GROUP, self.channel)

    async def _load_all(self):
        self.state = "loading"
        specs = await _db(model_specs_enabled)
        try:
            self.device = await asyncio.to_thread(self._resolve_device)
        except Exception as exc:  # a bad LLM_DEVICE fails every model the same way
            self.failures = {s.name: str(exc) for s in specs}
            self.state = "failed"
            self.ready.set()
            return
        for spec in specs:
            try:
                loaded = await asyncio.to_thread(self._load, spec)
            except Exception as exc:  # keep serving the models that did load
                logger.warning("Model %s failed to load: %s", spec.name, exc)
                self.failures[spec.name] = str(exc)
            else:
                self.models[spec.name] = loaded
                logger.info("Loaded %s on %s in %.2f s", spec.name, self.device, loaded.load_seconds)
        for name, loaded in self.models.items():
            if loaded.spec.kind == CAUSAL_LM:
                self.engines[name] = self._make_engine(loaded)
        self.state = "ready" if self.models or not specs else "failed"
        self.ready.set()
        # Only now start taking shared requests, so no request waits on a load.
        await self._serve(requests_channel())

    def _resolve_device(self) -> str:
        from .ml.loading import resolve_device

        return resolve_device(self.device_setting)

    def _load(self, spec):
        from .ml.loading import load_model

        return load_model(spec, device=self.device)

    # --- dispatch ------------------------------------------------------------
    async def _serve(self, channel: str):
        while True:
            message = await self.layer.receive(channel)
            logger.debug("%s: %s", channel, message.get("type"))
            handler = getattr(self, "handle_" + message.get("type", "").replace(".", "_"), None)
            if handler is None:
                logger.warning("Unknown message type %r", message.get("type"))
                continue
            try:
                await handler(message)
            except Exception as exc:  # one bad request must not stop the worker
                logger.exception("Error handling %s", message.get("type"))
                await self.reply(message, {"type": "worker.error", "code": "internal", "message": str(exc)})

    async def reply(self, request: dict, payload: dict):
        reply_to = request.get("reply_to")
        if reply_to:
            payload.setdefault("request_id", request.get("request_id"))
            await self.layer.send(reply_to, payload)

    def status(self) -> dict:
        return {
            "load": {name: engine.load() for name, engine in self.engines.items()},
            "name": self.name,
            "state": self.state,
            "device": self.device,
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "models": [m.describe() for m in self.models.values()],
            "failed_models": self.failures,
        }

    async def handle_worker_ping(self, message):
        await self.reply(message, {"type": "worker.pong", "worker": self.status()})

    # --- generation ------------------------------------------------------------------
    def _make_engine(self, loaded):
        from .ml.engine import BatchEngine, EngineConfig

        loop = asyncio.get_running_loop()

        def emit(request_id, event):  # called from the engine thread
            loop.call_soon_threadsafe(self._on_event, request_id, event)

        engine = BatchEngine(
            loaded.model, loaded.tokenizer, emit=emit,
            config=EngineConfig(max_batch=settings.LLM_MAX_BATCH, max_waiting=settings.LLM_MAX_WAITING,
                                max_prompt_tokens=settings.LLM_MAX_PROMPT_TOKENS,
                                max_new_tokens=settings.LLM_MAX_NEW_TOKENS),
        )
        engine.start()
        return engine

    async def _engine_for(self, name):
        """The engine for a model, loading an employee's fine-tune on first use."""
        if name in self.engines:
            if name in self.on_demand:
                self.on_demand.remove(name)
                self.on_demand.append(name)
            return self.engines[name]
        spec = await _db(model_spec_by_name, name)
        if spec is None or spec.kind != CAUSAL_LM:
            return None
        async with self._load_locks.setdefault(name, asyncio.Lock()):
            if name not in self.engines:
                self._evict_idle()
                spec = await asyncio.to_thread(local_spec, spec)  # a fine-tune: fetched from the object store
                loaded = await asyncio.to_thread(self._load, spec)
                self.models[name] = loaded
                self.engines[name] = self._make_engine(loaded)
                self.on_demand.append(name)
                logger.info("Loaded %s on demand in %.2f s", name, loaded.load_seconds)
        return self.engines[name]

    def _evict_idle(self):
        """Keep at most LLM_MAX_ON_DEMAND_MODELS fine-tunes in memory; drop idle ones first."""
        while len(self.on_demand) >= settings.LLM_MAX_ON_DEMAND_MODELS:
            idle = [n for n in self.on_demand if self.engines[n].load()["active"] == 0 and self.engines[n].load()["waiting"] == 0]
            if not idle:
                return
            name = idle[0]
            self.on_demand.remove(name)
            self.engines.pop(name).shutdown()
            self.models.pop(name, None)

    def _on_event(self, request_id, event):
        stream = self.streams.get(request_id)
        if stream is not None:
            stream.events.put_nowait(event)

    async def handle_gen_start(self, message):
        from .ml.engine import EngineBusy, GenerationRequest
        from .ml.prompts import PromptError, build_prompt
        from .ml.sampling import SamplingParams

        request_id, run_id = message["request_id"], message.get("run_id")
        try:
            engine = await self._engine_for(message.get("model"))
        except Exception as exc:  # noqa: BLE001  (weights missing or unreadable: tell the employee)
            await self._fail(message, "model_not_available", str(exc))
            return
        if engine is None:
            await self._fail(message, "unknown_model", f"Model {message.get('model')!r} is not a language model loaded on this worker.")
            return
        try:
            prompt_ids, stop_ids = build_prompt(engine.tokenizer, message["prompt"], message.get("mode", "completion"),
                                                max_tokens=settings.LLM_MAX_PROMPT_TOKENS)
        except PromptError as exc:
            await self._fail(message, exc.code, _employee_text(exc, message.get("language")))
            return
        params = SamplingParams(**message["params"])
        stream = _Stream(reply_to=message["reply_to"], run_id=run_id)
        self.streams[request_id] = stream
        try:
            engine.submit(GenerationRequest(request_id=request_id, prompt_ids=prompt_ids, params=params,
                                            stop_ids=stop_ids))
        except EngineBusy as exc:
            del self.streams[request_id]
            await self._fail(message, exc.code, _employee_text(exc, message.get("language")))
            return
        from .ml.tokens import piece_text

        await self.layer.send(stream.reply_to, {
            "type": "gen.started", "request_id": request_id, "worker_channel": self.channel,
            "worker": self.name, "prompt_tokens": [{"id": i, "text": piece_text(engine.tokenizer, i)} for i in prompt_ids],
        })
        asyncio.create_task(self._relay(request_id, stream), name=f"relay-{request_id}")

    async def handle_gen_stop(self, message):
        for engine in self.engines.values():
            engine.cancel(message["request_id"])

    async def _relay(self, request_id: str, stream: _Stream):
        """Send a generation's events to its consumer, coalescing tokens that piled up
        while the previous send was in flight (a slow client never slows the batch)."""
        try:
            while True:
                batch = [await stream.events.get()]
                while not stream.events.empty() and len(batch) < MAX_TOKENS_PER_MESSAGE:
                    batch.append(stream.events.get_nowait())
                tokens = [e for e in batch if e["type"] == "token"]
                stream.tokens.extend(tokens)
                if tokens:
                    await self._send_quietly(stream.reply_to, {"type": "gen.tokens", "request_id": request_id, "tokens": tokens})
                done = next((e for e in batch if e["type"] == "done"), None)
                if done is not None:
                    await self._finish(request_id, stream, done)
                    return
        finally:
            self.streams.pop(request_id, None)

    async def _finish(self, request_id: str, stream: _Stream, done: dict):
        if stream.run_id is not None:
            saved = [{k: t[k] for k in ("id", "text", "p", "p_sample", "top")} for t in stream.tokens]
            await _db(run_finish,
                run_id=stream.run_id, done=done, tokens=saved, worker=self.name, device=self.device)
        await self._send_quietly(stream.reply_to, {**done, "type": "gen.done", "request_id": request_id})

    async def _send_quietly(self, channel, message):
        # A consumer that has gone away must not stop the relay (the run still gets saved).
        try:
            await self.layer.send(channel, message)
        except Exception:  # noqa: BLE001  (ChannelFull, or the layer closing)
            logger.warning("Could not deliver %s to %s", message.get("type"), channel, exc_info=True)

    async def _fail(self, message, code, text):
        if message.get("run_id") is not None:
            await _db(run_fail, run_id=message["run_id"], code=code, message=text)
        await self.reply(message, {"type": "worker.error", "code": code, "message": text})

    # --- attention -----------------------------------------------------------------------
    async def handle_attention(self, message):
        """Attention for a run or a text: one layer (or head) of the heatmap, or a bertviz view."""
        from .ml.attention import AttentionCache

        name = message.get("model")
        if name not in self.models:
            try:
                await self._engine_for(name)
            except Exception as exc:  # noqa: BLE001
                await self.reply(message, {"type": "worker.error", "code": "model_not_available", "message": str(exc)})
                return
        loaded = self.models.get(name)
        if loaded is None:
            await self.reply(message, {"type": "worker.error", "code": "unknown_model",
                                       "message": f"Model {name!r} is not loaded on this worker."})
            return
        if self.attention_cache is None:
            self.attention_cache = AttentionCache(size=settings.LLM_ATTENTION_CACHE)
        try:
            payload = await asyncio.to_thread(self._attention, loaded, message)
        except AttentionRequestError as exc:
            await self.reply(message, {"type": "worker.error", "code": exc.code, "message": str(exc)})
            return
        await self.reply(message, {"type": "attention.result", **payload})

    def _attention(self, loaded, message) -> dict:
        from .ml import attention
        from .ml.prompts import build_prompt

        view = message.get("view", "layer")
        cap = {"layer": settings.LLM_ATTENTION_MAX_TOKENS, "head": settings.LLM_BERTVIZ_HEAD_MAX_TOKENS,
               "model": settings.LLM_BERTVIZ_MODEL_MAX_TOKENS}[view]
        key = (loaded.spec.name, message["key"])
        maps = self.attention_cache.get(key)
        if maps is None:
            tokenizer = loaded.tokenizer
            if "run" in message:
                run = message["run"]
                ids, _ = build_prompt(tokenizer, run["prompt"], run["mode"], max_tokens=10**6)
                ids = ids + run["generated"]
            elif loaded.spec.kind == CAUSAL_LM:
                ids = tokenizer(message["text"], add_special_tokens=False)["input_ids"]
            else:
                ids = tokenizer(message["text"])["input_ids"]  # [CLS] … [SEP], as the encoder was trained
            if not ids:
                raise AttentionRequestError("bad_request", "There is no text to look at.")
            if len(ids) > settings.LLM_ATTENTION_MAX_TOKENS:
                raise AttentionRequestError("too_long", f"This text is {len(ids)} tokens; attention views show at most "
                                            f"{settings.LLM_ATTENTION_MAX_TOKENS}. Shorten it and try again.")
            twin = self.twins.get(loaded.spec.name)
            if twin is None:
                twin = self.twins[loaded.spec.name] = attention.eager_twin(loaded.model)
            maps = attention.compute(twin, tokenizer, ids)
            self.attention_cache.put(key, maps)
        layers, heads, length, _ = maps.shape
        if length > cap:
            raise AttentionRequestError("too_long", f"This text is {length} tokens; the {view} view shows at most {cap}. "
                                        "Use the heatmap, or a shorter text.")
        if view == "layer":
            layer, head = message.get("layer", 0), message.get("head")
            if not isinstance(layer, int) or not 0 <= layer < layers:
                raise AttentionRequestError("bad_layer", f"Layer must be between 0 and {layers - 1}.")
            if head is not None and (not isinstance(head, int) or not 0 <= head < heads):
                raise AttentionRequestError("bad_head", f"Head must be between 0 and {heads - 1}.")
            return maps.payload(layer, head)
        from .ml.bertviz_embed import render

        include = [i for i in message.get("include_layers") or range(layers)][: settings.LLM_BERTVIZ_MAX_LAYERS]
        if not include or any(not isinstance(i, int) or not 0 <= i < layers for i in include):
            raise AttentionRequestError("bad_layer", f"Layers must be between 0 and {layers - 1}.")
        return {"view": view, "layers": layers, "include_layers": include,
                **render(view, maps.as_float(list(range(layers))), maps.tokens, include, message["static_base"])}

    async def handle_tokenize(self, message):
        loaded = self.models.get(message.get("model"))
        if loaded is None:
            await self.reply(message, {"type": "worker.error", "code": "unknown_model",
                                       "message": f"Model {message.get('model')!r} is not loaded on this worker."})
            return
        from .ml.tokens import tokenize

        tokens = tokenize(loaded.tokenizer, str(message.get("text", "")))
        await self.reply(message, {"type": "tokenize.result", "model": loaded.spec.name, "tokens": tokens})


class AttentionRequestError(ValueError):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


@dataclass
class _Stream:
    """A generation in flight: where to send its events, and what to save at the end."""

    reply_to: str
    run_id: int | None
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    tokens: list = field(default_factory=list)


async def ping_workers(*, timeout: float = 1.5, channel_layer=None) -> list[dict]:
    """Ask every model worker for its status; collect replies until `timeout`."""
    layer = channel_layer or get_channel_layer()
    reply_to = await layer.new_channel()  # default prefix; see ModelWorker.run
    await layer.group_send(WORKERS_GROUP, {"type": "worker.ping", "reply_to": reply_to})
    replies: list[dict] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(layer.receive(reply_to), left)
        except Exception:  # noqa: BLE001  (the timeout; redis-py reports a cancelled read as its own TimeoutError)
            break
        if message.get("type") == "worker.pong":
            replies.append(message["worker"])
    return replies


async def _db(fn, /, *args, **kwargs):
    """Run an ORM call in a pool thread, closing that thread's connection afterwards
    (the worker lives for days; it must not leave connections open behind it)."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return await sync_to_async(call, thread_sensitive=False)()


async def ask_worker(message: dict, *, timeout: float = 30.0, channel_layer=None) -> dict:
    """Send one request to the model workers and wait for its reply (request/response)."""
    import uuid

    layer = channel_layer or get_channel_layer()
    reply_to = await layer.new_channel()
    await layer.send(requests_channel(), {**message, "reply_to": reply_to, "request_id": uuid.uuid4().hex})
    try:
        return await asyncio.wait_for(layer.receive(reply_to), timeout)
    except Exception:  # noqa: BLE001  (the timeout; redis-py reports a cancelled read as its own TimeoutError)
        return {"type": "worker.error", "code": "no_worker", "message": "No model worker answered in time; try again shortly."}


_embedded: ModelWorker | None = None


async def start_embedded_worker() -> asyncio.Task:
    """Run a worker inside this process (embedded mode); models load in the background."""
    global _embedded
    _embedded = ModelWorker()
    task = asyncio.create_task(_embedded.run(), name="embedded-model-worker")
    return task
