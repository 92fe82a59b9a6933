"""Checks behind /healthz: database, channel layer, Celery broker and workers, model workers."""

from __future__ import annotations

import asyncio
import time

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection


def _timed(fn):
    started = time.perf_counter()
    try:
        result = fn()
        result.setdefault("ok", True)
    except Exception as exc:  # a health check reports failures, it never raises
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database() -> dict:
    def run():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"vendor": connection.vendor}

    try:
        return _timed(run)
    finally:
        connection.close()


async def check_channel_layer() -> dict:
    started = time.perf_counter()
    layer = get_channel_layer()
    try:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.echo"})
        message = await asyncio.wait_for(layer.receive(channel), 2)
        ok = message.get("type") == "health.echo"
        result = {"ok": ok, "backend": type(layer).__name__}
    except Exception as exc:
        result = {"ok": False, "backend": type(layer).__name__, "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_celery(timeout: float = 1.5) -> dict:
    from config.celery import app

    def run():
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
        replies = app.control.ping(timeout=timeout) or []
        workers = sorted(name for reply in replies for name in reply)
        return {"broker": str(transport), "workers": workers, "ok": bool(workers)}

    return _timed(run)


async def check_model_workers() -> dict:
    from playground.client import ping_workers

    started = time.perf_counter()
    try:
        workers = await ping_workers(timeout=1.0)
        ok = bool(workers) and all(w["state"] == "ready" for w in workers)
        result = {"ok": ok, "workers": workers}
        if not workers:
            result["error"] = "no model worker answered"
    except Exception as exc:
        result = {"ok": False, "workers": [], "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def health_report() -> dict:
    database, channel_layer, celery, models = await asyncio.gather(
        sync_to_async(check_database, thread_sensitive=False)(),
        check_channel_layer(),
        sync_to_async(check_celery, thread_sensitive=False)(),
        check_model_workers(),
    )
    report = {
        "database": database,
        "channel_layer": channel_layer,
        "celery": celery,
        "model_workers": models,
        "mode": "embedded" if settings.LLM_EMBEDDED_WORKER else "production",
    }
    report["ok"] = all(part["ok"] for part in (database, channel_layer, celery, models))
    return report
