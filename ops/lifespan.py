"""ASGI lifespan support, used to run the embedded model worker in-process."""

import asyncio
import gc
import logging

from django.conf import settings

logger = logging.getLogger(__name__)


class LifespanApp:
    """Wrap an ASGI app, handling "lifespan" scopes and passing the rest on."""

    def __init__(self, app):
        self.app = app
        self.worker_task: asyncio.Task | None = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "lifespan":
            return await self.app(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # report the failure to the server, which exits
                    logger.exception("Startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self):
        if settings.LLM_EMBEDDED_WORKER:
            from playground.worker import start_embedded_worker

            self.worker_task = await start_embedded_worker()
        # What start-up made (modules, settings, URL patterns, a model) lives as long as the
        # process: moved out of the collector's reach, a full collection no longer walks it
        # (some 130,000 objects, about 60 ms every few hundred requests, with every thread
        # of the process stopped meanwhile).
        gc.collect()
        gc.freeze()

    async def shutdown(self):
        if self.worker_task is not None:
            self.worker_task.cancel()
            try:
                await self.worker_task
            except asyncio.CancelledError:
                pass
