"""The model worker's generations: each `gen.start` is claimed, submitted to its model's
batch engine, and relayed to its consumer as coalesced token events, with the tokens so
far saved every CHECKPOINT_SECONDS; the run is finished (or failed) exactly once.

A mixin of `playground.worker.ModelWorker`, which supplies the channel layer, the pool,
the worker's identity and the request bookkeeping (`streams`, `_tasks`, `reply`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from training.artifacts import ArtifactChanged

from . import client
from .services import run_checkpoint, run_claim, run_fail, run_finish

logger = logging.getLogger("playground.worker")

# One channel-layer message carries at most this many coalesced token events
# (channels_redis caps a message near 1 MB; a token event is ~300 bytes).
MAX_TOKENS_PER_MESSAGE = 256
# How often a stream's tokens so far are saved while it runs (a process killed with
# kill -9 loses at most this much of a run).
CHECKPOINT_SECONDS = 1.0


class GenerationMixin:
    # --- generation ------------------------------------------------------------------
    def _make_engine(self, loaded):
        from .ml.engine import BatchEngine, EngineConfig, batch_size_for

        loop = asyncio.get_running_loop()

        def emit(stream_id, event):  # called from the engine thread
            loop.call_soon_threadsafe(self._on_event, stream_id, event)

        max_tokens = settings.LLM_MAX_PROMPT_TOKENS + settings.LLM_MAX_NEW_TOKENS
        engine = BatchEngine(
            loaded.model, loaded.tokenizer, emit=emit,
            config=EngineConfig(max_batch=settings.LLM_MAX_BATCH or batch_size_for(loaded.model, max_tokens=max_tokens),
                                max_waiting=settings.LLM_MAX_WAITING,
                                max_prompt_tokens=settings.LLM_MAX_PROMPT_TOKENS,
                                max_new_tokens=settings.LLM_MAX_NEW_TOKENS),
        )
        engine.start()
        return engine

    def _on_event(self, stream_id, event):
        stream = self.streams.get(stream_id)
        if stream is not None:
            stream.events.put_nowait(event)

    async def handle_gen_start(self, message):
        from .ml.engine import EngineBusy, GenerationRequest
        from .ml.prompts import PromptError, PromptTooLong, build_prompt
        from .ml.sampling import SamplingParams
        from .ml.tokens import piece_text

        stream_id, run_id = message["stream"], message["run_id"]
        if time.time() > message.get("deadline", 0):
            await self._fail(message, "expired", unclaimed_only=True)
            return
        try:
            loaded = await self._model(message.get("model"))
        except ArtifactChanged:
            logger.warning("Refused %s: its stored files changed since training", message.get("model"), exc_info=True)
            await self._fail(message, "model_changed", model=message.get("model"))
            return
        except Exception:  # noqa: BLE001  (weights missing or unreadable: tell the employee)
            logger.warning("Could not load %s", message.get("model"), exc_info=True)
            await self._fail(message, "model_not_available", model=message.get("model"))
            return
        engine = self.engines.get(message.get("model"))
        if loaded is None or engine is None:
            await self._fail(message, "unknown_model", model=message.get("model"))
            return
        try:
            prompt_ids, stop_ids = build_prompt(engine.tokenizer, message["prompt"], message.get("mode", "completion"),
                                                max_tokens=settings.LLM_MAX_PROMPT_TOKENS)
        except PromptTooLong as exc:
            await self._fail(message, exc.code, tokens=exc.tokens, limit=exc.limit)
            return
        except PromptError:
            code = "no_chat_template" if message.get("mode") == "chat" else "empty_prompt"
            await self._fail(message, code)
            return
        # A request that waited past its deadline was already failed by its consumer.
        if time.time() > message["deadline"]:
            await self._fail(message, "expired", unclaimed_only=True)
            return
        if not await _db(run_claim, run_id=run_id, worker_id=self.worker_id, worker=self.name, device=self.device):
            return  # no longer RUNNING (the consumer gave up, or the employee left): nobody to serve
        stream = _Stream(reply_to=message["reply_to"], run_id=run_id, model=message["model"])
        self.streams[stream_id] = stream
        try:
            engine.submit(GenerationRequest(request_id=stream_id, prompt_ids=prompt_ids,
                                            params=SamplingParams(**message["params"]), stop_ids=stop_ids))
        except EngineBusy as exc:
            del self.streams[stream_id]
            await self._fail(message, exc.code)
            return
        await self._send_quietly(stream.reply_to, {
            "type": "gen.started", "stream": stream_id, "worker_channel": self.channel, "worker": self.name,
            "prompt_tokens": [{"id": i, "text": piece_text(engine.tokenizer, i)} for i in prompt_ids],
        })
        task = asyncio.create_task(self._relay(stream_id, stream), name=f"relay-{stream_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle_gen_stop(self, message):
        stream = self.streams.get(message.get("stream"))
        if stream is not None and stream.model in self.engines:
            self.engines[stream.model].cancel(message["stream"])

    async def _relay(self, stream_id: str, stream: _Stream):
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
                    await self._send_quietly(stream.reply_to, {"type": "gen.tokens", "stream": stream_id, "tokens": tokens})
                    self._checkpoint(stream)
                done = next((e for e in batch if e["type"] == "done"), None)
                if done is not None:
                    await self._finish(stream_id, stream, done)
                    return
        finally:
            self.streams.pop(stream_id, None)

    def _checkpoint(self, stream: _Stream):
        """Now and then, save the tokens so far in the background (one write in flight per
        stream; a checkpoint that lands after the run finished changes nothing)."""
        now = time.monotonic()
        if now - stream.checkpoint_at < CHECKPOINT_SECONDS or (stream.checkpoint and not stream.checkpoint.done()):
            return
        stream.checkpoint_at = now
        # A copy: the relay keeps appending while the write runs in a pool thread.
        stream.checkpoint = asyncio.create_task(_db(run_checkpoint, run_id=stream.run_id, tokens=list(stream.tokens)))

    async def _finish(self, stream_id: str, stream: _Stream, done: dict):
        if await _db(run_finish, run_id=stream.run_id, worker_id=self.worker_id, done=done, tokens=stream.tokens):
            await self._send_quietly(stream.reply_to, {**done, "type": "gen.done", "stream": stream_id})
        # Otherwise the run had been failed (its consumer said so already): that stays the truth.

    async def _fail(self, message, code, *, unclaimed_only=False, **params):
        failed = await _db(run_fail, run_id=message["run_id"], code=code, unclaimed_only=unclaimed_only)
        if failed:
            await self.reply(message, client.worker_error(code, **params))


@dataclass
class _Stream:
    """A generation in flight: where to send its events, and what to save at the end."""

    reply_to: str
    run_id: int
    model: str
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    tokens: list = field(default_factory=list)
    checkpoint_at: float = 0.0  # monotonic time of the last checkpoint
    checkpoint: asyncio.Task | None = None


def _closing(fn, args: tuple, kwargs: dict):
    """`fn` as a call that closes its thread's connection afterwards (the worker lives
    for days; it must not leave connections open behind it)."""

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return call


async def _db(fn, /, *args, **kwargs):
    """Run an ORM call in a pool thread."""
    return await sync_to_async(_closing(fn, args, kwargs), thread_sensitive=False)()
