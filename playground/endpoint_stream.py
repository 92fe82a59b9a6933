"""A playground generation served by an OpenAI-compatible endpoint, run in the web process.

The consumer hands a run to `EndpointGeneration` instead of sending `gen.start` to the
model workers; it then receives the same events a worker would send (`gen.started`,
`gen.tokens`, `gen.done`, `worker.error`), so the browser's protocol and the saved run
are the same as for our own models:

- the run is claimed, checkpointed about once a second and finished (or failed with
  what arrived) through the same services as a model worker uses;
- this web process writes a heartbeat row while it streams from endpoints, so a web
  process that dies mid-stream leaves no run RUNNING: the usual sweep fails it as
  `worker_lost` and keeps the last checkpoint;
- `stop()` (the Stop button, or the tab closing) cancels the task that reads the HTTP
  stream, which closes the connection at once: the server stops generating;
- each endpoint takes at most `max_concurrency` generations at once per process; more
  are refused as `busy`, and nothing here holds up other models.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.utils import translation
from django.utils.translation import gettext as _

from . import client
from .endpoints import EndpointConfig, EndpointError, stream_completion, tokenize
from .services import run_checkpoint, run_claim, run_fail, run_finish, worker_beat

logger = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0  # as the model workers: a killed process loses at most this much


class _Process:
    """This web process as the owner of its endpoint runs: one id, one heartbeat that
    beats while any endpoint generation is in flight, and the per-endpoint slots."""

    def __init__(self):
        self.worker_id = "endpoint-" + uuid.uuid4().hex
        self.name = f"endpoints@{socket.gethostname()}:{os.getpid()}"
        self.active = 0
        self.beating: asyncio.Task | None = None
        self.beat_at = 0.0  # monotonic time of the last beat written
        self.in_use: dict[str, int] = {}

    async def enter(self) -> None:
        self.active += 1
        # A task of another event loop (a test's, now closed) never finishes: start anew.
        alive = not (self.beating is None or self.beating.done()
                     or self.beating.get_loop() is not asyncio.get_running_loop())
        if not alive or time.monotonic() - self.beat_at > client.HEARTBEAT_SECONDS:
            await self._beat_once()  # the row must be fresh before this process claims a run
        if not alive:
            self.beating = asyncio.create_task(self._beat())

    def leave(self) -> None:
        self.active -= 1

    async def _beat_once(self) -> None:
        await database_sync_to_async(worker_beat)(worker_id=self.worker_id, name=self.name)
        self.beat_at = time.monotonic()

    async def _beat(self) -> None:
        while self.active > 0:
            await asyncio.sleep(client.HEARTBEAT_SECONDS)
            try:
                await self._beat_once()
            except Exception:  # noqa: BLE001  (a failed beat is retried; the DB may be restarting)
                logger.exception("endpoint heartbeat failed")

    def take_slot(self, config: EndpointConfig) -> bool:
        if self.in_use.get(config.name, 0) >= config.max_concurrency:
            return False
        self.in_use[config.name] = self.in_use.get(config.name, 0) + 1
        return True

    def free_slot(self, config: EndpointConfig) -> None:
        self.in_use[config.name] -= 1


PROCESS = _Process()


def unavailable_notice() -> str:
    """What an endpoint's run does not show, and why (in the active language)."""
    return _("This model is served by an OpenAI-compatible endpoint, not by our model workers: the probabilities "
             "and alternatives are the endpoint's logprobs; the probability after sampling, attention and our "
             "tokenizer view need the model's weights, which only the endpoint holds.")


class EndpointGeneration:
    """One run streamed from an endpoint; `deliver` is the consumer's handler lookup."""

    def __init__(self, *, config: EndpointConfig, run_id: int, stream: str, clean: dict, language: str,
                 deliver: Callable[[dict], Awaitable[None]]):
        self.config, self.run_id, self.stream, self.clean = config, run_id, stream, clean
        self.language, self.deliver = language, deliver
        self.tokens: list[dict] = []
        self.prompt_count = 0
        self.first_at: float | None = None
        self.stopped = asyncio.Event()
        self.task: asyncio.Task | None = None

    def start(self) -> asyncio.Task:
        self.task = asyncio.create_task(self.run(), name=f"endpoint-{self.config.name}-{self.run_id}")
        return self.task

    def stop(self) -> None:
        self.stopped.set()

    async def _send(self, event: dict) -> None:
        # The socket may be gone (the tab closed); the run is saved before anything is sent.
        try:
            await self.deliver({**event, "stream": self.stream})
        except Exception:  # noqa: BLE001
            logger.debug("endpoint event for a closed socket dropped", exc_info=True)

    async def _fail(self, code: str, params: dict | None = None) -> None:
        await database_sync_to_async(run_fail)(run_id=self.run_id, code=code, tokens=list(self.tokens),
                                               message=client.error_text(code, params, self.language))
        await self._send(client.worker_error(code, **(params or {})))

    async def run(self) -> None:
        if not PROCESS.take_slot(self.config):
            await self._fail("busy")
            return
        await PROCESS.enter()
        try:
            await self._run()
        except Exception:  # noqa: BLE001  (a bug here must not leave the run RUNNING)
            logger.exception("endpoint generation %s failed", self.run_id)
            await self._fail("internal")
        finally:
            PROCESS.leave()
            PROCESS.free_slot(self.config)

    async def _run(self) -> None:
        claimed = await database_sync_to_async(run_claim)(
            run_id=self.run_id, worker_id=PROCESS.worker_id, worker=self.config.host, device="endpoint")
        if not claimed:  # failed or cancelled before we got here; its side told the client
            return
        submitted = time.perf_counter()
        prompt_tokens = []
        try:
            if self.clean["mode"] == "completion":
                prompt_tokens = await tokenize(self.config, self.clean["prompt"])
        except EndpointError:
            prompt_tokens = []  # the token view is a nicety; the generation says what is wrong
        # The count is kept for the run when the stream reports no usage (llama.cpp's does not).
        self.prompt_count = len(prompt_tokens)
        with translation.override(self.language):
            notice = unavailable_notice()
        await self._send({"type": "gen.started", "worker_channel": None, "worker": self.config.host,
                          # pieces only when the server gives them (vLLM); ids alone show nothing useful
                          "prompt_tokens": prompt_tokens if all(t["text"] for t in prompt_tokens) else [],
                          "notice": notice})
        reader = asyncio.create_task(self._read(submitted))
        stopper = asyncio.create_task(self.stopped.wait())
        await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if not reader.done():
            # Stop or a closed tab: cancelling the reader closes the HTTP connection now.
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await self._finish("stopped", {}, submitted)
            return
        stopper.cancel()
        try:
            finish_reason, usage = reader.result()
        except EndpointError as exc:
            await self._fail(exc.code, exc.params)
            return
        await self._finish(finish_reason, usage, submitted)

    async def _read(self, submitted: float) -> tuple[str, dict]:
        checkpoint_at, checkpoint = time.monotonic(), None
        stream = stream_completion(self.config, mode=self.clean["mode"], prompt=self.clean["prompt"],
                                   params=self.clean["params"])
        try:
            async for event in stream:
                if event["type"] == "finish":
                    return event["finish_reason"], event["usage"]
                if self.first_at is None:
                    self.first_at = time.perf_counter()
                self.tokens.append(event)
                await self._send({"type": "gen.tokens", "tokens": [event]})
                if time.monotonic() - checkpoint_at >= CHECKPOINT_SECONDS and (
                        checkpoint is None or checkpoint.done()):
                    # In the background, as the workers do: the stream never waits for the database.
                    checkpoint_at = time.monotonic()
                    checkpoint = asyncio.create_task(database_sync_to_async(run_checkpoint)(
                        run_id=self.run_id, tokens=list(self.tokens)))
        finally:
            await stream.aclose()
            if checkpoint is not None:
                await asyncio.gather(checkpoint, return_exceptions=True)  # before the run's final write
        raise EndpointError("endpoint_cut")

    async def _finish(self, finish_reason: str, usage: dict, submitted: float) -> None:
        end = time.perf_counter()
        first = self.first_at
        decode = end - first if first else 0.0
        done = {
            "type": "gen.done",
            "finish_reason": finish_reason,
            "prompt_tokens": int(usage.get("prompt_tokens") or self.prompt_count),
            "completion_tokens": len(self.tokens),
            "text": "".join(t["text"] for t in self.tokens),
            "queue_seconds": 0.0,
            "ttft_seconds": round(first - submitted, 4) if first else None,
            "prefill_seconds": None,
            "tokens_per_second": round((len(self.tokens) - 1) / decode, 2) if decode > 0 else None,
            # An endpoint's compute is not ours to measure: its wall time is what the run cost.
            "compute_seconds": round(end - submitted, 4),
        }
        await database_sync_to_async(run_finish)(run_id=self.run_id, worker_id=PROCESS.worker_id, done=done,
                                                 tokens=self.tokens)
        await self._send(done)
