"""The model worker: a service that owns the loaded models and answers over the channel layer.

Consumers and views never run a model; they talk to workers through `playground.client`
(channel names, message shapes, ask and ping). Requests go to the shared requests
channel (any worker may take one); `gen.stop` and `worker.ping` come to a worker's own
channel. Replies carry codes and parameters only; the web side makes the words.

Inside, three parts:
  - a dispatcher takes messages off the channels and runs each as a task, at most
    MAX_CONCURRENT_REQUESTS at once, so an attention pass or a model load never holds
    up a `gen.start` behind it;
  - a model pool (`ml/pool.py`) owns loading, the batch engines and eviction;
  - streams: a relay per generation that coalesces token events to its consumer
    (`worker_generation.py`).

Each run has one owner: the worker claims it (a conditional update) before generating,
and finishes it only if it is still RUNNING. A heartbeat row says the worker is alive;
when it goes stale, its runs are failed by whoever looks first (the consumer waiting on
it, another worker, or the next `run_create`).

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
import uuid
from concurrent.futures import ThreadPoolExecutor

from channels.layers import get_channel_layer
from django.conf import settings

from training.artifacts import local_spec

from . import client
from .ml.kinds import CAUSAL_LM
from .ml.threads import in_fresh_thread
from .selectors import model_spec_by_name, model_specs_enabled
from .services import run_fail, runs_fail_orphaned, worker_beat, worker_gone
from .worker_generation import GenerationMixin, _closing, _db, _Stream
from .worker_lens import LensService

logger = logging.getLogger(__name__)

# Requests handled at once (each a task); more wait on the channel, not in memory.
MAX_CONCURRENT_REQUESTS = 32
# Attention passes at once: each is a full forward pass on the device.
MAX_CONCURRENT_ATTENTION = 1
GROUP_REFRESH_SECONDS = 300  # channels_redis expires group membership after a day
SWEEP_EVERY_BEATS = 3  # look for other workers' orphaned runs every few heartbeats


class ModelWorker(GenerationMixin):
    def __init__(self, *, channel_layer=None, name: str = "", device_setting: str | None = None):
        from .ml.pool import ModelPool

        self.layer = channel_layer or get_channel_layer()
        self.name = name or settings.LLM_WORKER_NAME or f"{socket.gethostname()}:{os.getpid()}"
        self.worker_id = uuid.uuid4().hex  # this process's life; heartbeat and claimed runs carry it
        self.device_setting = device_setting or settings.LLM_DEVICE
        self.device = "unknown"
        self.started_at = time.time()
        self.state = "starting"  # starting → loading → ready (or failed)
        self.channel = ""
        self.ready = asyncio.Event()
        self.pool_class = ModelPool
        self.pool = None
        self.attention_cache = None
        self.lens = LensService(self)  # the layer view and switch-offs (worker_lens.py)
        self.streams: dict[str, _Stream] = {}  # server-made stream id → where its events go
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)
        self._attention_slots = asyncio.Semaphore(MAX_CONCURRENT_ATTENTION)
        self._tasks: set[asyncio.Task] = set()
        # The heartbeat has a thread of its own: busy pool threads must never make a
        # live worker look dead.
        self._beat_thread = ThreadPoolExecutor(1, thread_name_prefix="worker-heartbeat")

    @property
    def models(self) -> dict:
        return self.pool.models if self.pool else {}

    @property
    def engines(self) -> dict:
        return self.pool.engines if self.pool else {}

    # --- lifecycle -----------------------------------------------------------
    async def run(self):
        # Always the default "specific." prefix (see client.ping_workers).
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(client.WORKERS_GROUP, self.channel)
        tasks = [
            asyncio.create_task(self._serve(self.channel, inline=True), name="worker-private"),
            asyncio.create_task(self._refresh_group(), name="worker-group"),
            asyncio.create_task(self._heartbeat(), name="worker-heartbeat"),
            asyncio.create_task(self._load_all(), name="worker-load"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in [*tasks, *self._tasks]:
                task.cancel()
            if self.pool:
                self.pool.shutdown()
            try:
                await asyncio.shield(self._beat(worker_gone, worker_id=self.worker_id))
            except Exception:  # noqa: BLE001  (the heartbeat goes stale by itself)
                logger.debug("worker_gone failed at shutdown", exc_info=True)
            try:
                await asyncio.shield(self.layer.group_discard(client.WORKERS_GROUP, self.channel))
            except Exception:  # shutting down anyway; the group entry expires by itself
                logger.debug("group_discard failed at shutdown", exc_info=True)
            self._beat_thread.shutdown(wait=False)

    async def _refresh_group(self):
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            await self.layer.group_add(client.WORKERS_GROUP, self.channel)

    async def _beat(self, fn, **kwargs):
        """An ORM call on the heartbeat's own thread, so a busy pool never delays a beat."""
        return await asyncio.get_running_loop().run_in_executor(self._beat_thread, _closing(fn, (), kwargs))

    async def _heartbeat(self):
        beats = 0
        while True:
            try:
                await self._beat(worker_beat, worker_id=self.worker_id, name=self.name)
                if beats % SWEEP_EVERY_BEATS == 0:
                    await self._beat(runs_fail_orphaned)
            except Exception:  # noqa: BLE001  (the database may blink; keep beating)
                logger.warning("Heartbeat failed", exc_info=True)
            beats += 1
            await asyncio.sleep(client.HEARTBEAT_SECONDS)

    async def _load_all(self):
        self.state = "loading"
        specs = await _db(model_specs_enabled)
        try:
            self.device = await asyncio.to_thread(self._resolve_device)
        except Exception as exc:  # a bad LLM_DEVICE fails every model the same way
            self.pool = self.pool_class(device="cpu", make_engine=self._make_engine)
            self.pool.failures = {s.name: str(exc) for s in specs}
            self.state = "failed"
            self.ready.set()
            return
        self.pool = self.pool_class(device=self.device, make_engine=self._make_engine,
                                    max_on_demand=settings.LLM_MAX_ON_DEMAND_MODELS)
        await self.pool.load_shared(specs)
        self.state = "ready" if self.pool.models or not specs else "failed"
        self.ready.set()
        # Only now take shared requests, so no request waits on a load.
        await self._serve(client.requests_channel(), inline=False)

    def _resolve_device(self) -> str:
        from .ml.loading import resolve_device

        return resolve_device(self.device_setting)

    # --- dispatcher -------------------------------------------------------------
    async def _serve(self, channel: str, *, inline: bool):
        """Take messages off `channel`. The worker's own channel (stops, pings) is
        answered inline, at once; shared requests each run as a task, bounded."""
        while True:
            message = await self.layer.receive(channel)
            logger.debug("%s: %s", channel, message.get("type"))
            if inline:
                await self._handle(message)
                continue
            await self._slots.acquire()
            task = asyncio.create_task(self._handle(message, release=True), name=f"request-{message.get('type')}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: dict, release: bool = False):
        try:
            handler = getattr(self, "handle_" + str(message.get("type", "")).replace(".", "_"), None)
            if handler is None:
                logger.warning("Unknown message type %r", message.get("type"))
                return
            await handler(message)
        except Exception:  # one bad request must not stop the worker
            logger.exception("Error handling %s", message.get("type"))
            if message.get("type") == "gen.start" and message.get("run_id") is not None:
                await _db(run_fail, run_id=message["run_id"], code="internal")
            await self.reply(message, client.worker_error("internal"))
        finally:
            if release:
                self._slots.release()

    async def reply(self, request: dict, payload: dict):
        reply_to = request.get("reply_to")
        if reply_to:
            await self._send_quietly(reply_to, {**payload, "stream": request.get("stream")})

    async def _send_quietly(self, channel, message):
        # A consumer that has gone away must not stop the worker (the run still gets saved).
        try:
            await self.layer.send(channel, message)
        except Exception:  # noqa: BLE001  (ChannelFull, or the layer closing)
            logger.warning("Could not deliver %s to %s", message.get("type"), channel, exc_info=True)

    def status(self) -> dict:
        return {
            "load": self.pool.load_report() if self.pool else {},
            "name": self.name,
            "state": self.state,
            "device": self.device,
            "uptime_seconds": round(time.time() - self.started_at, 1),
            "models": [m.describe() for m in self.models.values()],
            "failed_models": self.pool.failures if self.pool else {},
            "requests_in_flight": len(self._tasks),
        }

    async def handle_worker_ping(self, message):
        await self._send_quietly(message["reply_to"], {"type": "worker.pong", "worker": self.status()})

    async def _model(self, name):
        """A loaded model, loading an employee's fine-tune on first use; None if unknown."""
        async def spec_for(model_name):
            spec = await _db(model_spec_by_name, model_name)
            if spec is None or spec.kind != CAUSAL_LM:
                return None
            return await asyncio.to_thread(local_spec, spec)  # a fine-tune: fetched from the object store

        return await self.pool.get(str(name), spec_for)

    # --- attention and tokens ----------------------------------------------------------
    async def handle_attention(self, message):
        """Attention for a run or a text: one layer (or head) of the heatmap, or a bertviz view."""
        from .ml.attention import AttentionCache, AttentionRequestError

        try:
            loaded = await self._model(message.get("model"))
        except Exception:  # noqa: BLE001
            await self.reply(message, client.worker_error("model_not_available", model=message.get("model")))
            return
        if loaded is None:
            await self.reply(message, client.worker_error("unknown_model", model=message.get("model")))
            return
        if self.attention_cache is None:
            self.attention_cache = AttentionCache(size=settings.LLM_ATTENTION_CACHE)
        try:
            async with self._attention_slots:
                payload = await in_fresh_thread(self._attention, loaded, message, name="attention")
        except AttentionRequestError as exc:
            await self.reply(message, client.worker_error(exc.code, **exc.params))
            return
        await self.reply(message, {"type": "attention.result", **payload})

    def _attention(self, loaded, message) -> dict:
        from .ml import attention

        limits = attention.AttentionLimits(
            max_tokens=settings.LLM_ATTENTION_MAX_TOKENS, head_view_tokens=settings.LLM_BERTVIZ_HEAD_MAX_TOKENS,
            model_view_tokens=settings.LLM_BERTVIZ_MODEL_MAX_TOKENS, max_layers=settings.LLM_BERTVIZ_MAX_LAYERS)
        key = (loaded.spec.name, message["key"])
        maps = self.attention_cache.get(key)
        if maps is None:
            ids = attention.source_ids(loaded.tokenizer, causal=loaded.spec.kind == CAUSAL_LM, limits=limits,
                                       run=message.get("run"), text=message.get("text"))
            maps = attention.compute(self.pool.twin(loaded), loaded.tokenizer, ids)
            self.attention_cache.put(key, maps)
        view = message.get("view", "layer")
        include = attention.check_view(maps, view=view, limits=limits, layer=message.get("layer", 0),
                                       head=message.get("head"), include_layers=message.get("include_layers"))
        if view == "layer":
            return maps.payload(include[0], message.get("head"))
        from .ml.bertviz_embed import render

        layers = maps.shape[0]
        return {"view": view, "layers": layers, "include_layers": include,
                **render(view, maps.as_float(list(range(layers))), maps.tokens, include, message["static_base"])}

    async def handle_lens(self, message):
        """The layer view (logit lens) or a switch-off experiment: worker_lens.py."""
        await self.lens.handle(message)

    async def handle_tokenize(self, message):
        loaded = self.models.get(message.get("model"))
        if loaded is None:
            await self.reply(message, client.worker_error("unknown_model", model=message.get("model")))
            return
        from .ml.tokens import tokenize

        tokens = tokenize(loaded.tokenizer, str(message.get("text", "")))
        await self.reply(message, {"type": "tokenize.result", "model": loaded.spec.name, "tokens": tokens})


_embedded: ModelWorker | None = None


async def start_embedded_worker() -> asyncio.Task:
    """Run a worker inside this process (embedded mode); models load in the background."""
    global _embedded
    _embedded = ModelWorker()
    task = asyncio.create_task(_embedded.run(), name="embedded-model-worker")
    return task
