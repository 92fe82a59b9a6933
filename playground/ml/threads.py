"""Where a model worker runs PyTorch: one long-lived thread per batch engine, and
short-lived threads for everything else (loading weights, attention).

The reason is OpenMP. PyTorch's CPU kernels run in an OpenMP team that belongs to the
thread that called them, and the team's threads stay as long as that thread does. GNU
OpenMP (the runtime in PyTorch's wheel) counts every team's threads; once there are
more than the process has CPUs, its threads stop spinning between parallel regions
and sleep in the kernel instead, and a decode step is made of about a thousand small
parallel regions. On the 2-CPU hosts this project measured, one idle team left behind
by a thread pool (asyncio.to_thread's) made every decode step of the engine about 1.4x
slower (48 → 67 ms at batch 1, 55 → 80 ms at batch 8; bench/cpu_step_bench.py,
docs/PERFORMANCE.md). A thread
that has finished takes its team with it, so work that is not the engine's runs in a
thread of its own, which then ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable
from typing import Any


async def in_fresh_thread(fn: Callable[..., Any], *args, name: str = "model-task") -> Any:
    """Await fn(*args) run in a new thread that ends when fn returns (so does its OpenMP
    team). Like asyncio.to_thread, the caller's context variables go with it."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    context = contextvars.copy_context()

    def settle(setter, value):
        if not future.done():
            setter(value)

    def target():
        try:
            result = context.run(fn, *args)
        except BaseException as exc:  # noqa: BLE001  (handed to the awaiting coroutine)
            loop.call_soon_threadsafe(settle, future.set_exception, exc)
        else:
            loop.call_soon_threadsafe(settle, future.set_result, result)

    threading.Thread(target=target, name=name, daemon=True).start()
    return await future
