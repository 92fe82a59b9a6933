"""Checks behind /healthz: database, channel layer, Celery broker and workers, model workers,
and OpenAI-compatible endpoints (reported, but not part of the overall `ok`).

`health_report` is the detailed report (worker names, loaded models with their
names, errors), for admins at /health/. `public_summary` is what /healthz shows to
anyone: states and counts only. A loaded fine-tune is named `ft-<job>-<username>`,
and errors can name hosts, so neither leaves the summary.
"""

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


CELERY_PING_TIMEOUT = 1.5  # seconds Celery workers have to answer a ping
WORKER_PING_TIMEOUT = 1.0  # and model workers


def check_celery(timeout: float | None = None) -> dict:
    from config.celery import app

    def run():
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            transport = conn.transport_cls
        replies = app.control.ping(timeout=timeout or CELERY_PING_TIMEOUT) or []
        workers = sorted(name for reply in replies for name in reply)
        return {"broker": str(transport), "workers": workers, "ok": bool(workers)}

    return _timed(run)


async def check_model_workers() -> dict:
    from playground.client import ping_workers

    started = time.perf_counter()
    try:
        workers = await ping_workers(timeout=WORKER_PING_TIMEOUT)
        ok = bool(workers) and all(w["state"] == "ready" for w in workers)
        result = {"ok": ok, "workers": workers}
        if not workers:
            result["error"] = "no model worker answered"
    except Exception as exc:
        result = {"ok": False, "workers": [], "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_training() -> dict:
    """Fine-tunes left "running" with a stale heartbeat: their worker died and the
    periodic recovery (celery beat) has not caught up, so a job is stuck."""
    from training.selectors import jobs_stale_count

    def run():
        stale = jobs_stale_count()
        return {"ok": stale == 0, "stale_jobs": stale}

    try:
        return _timed(run)
    finally:
        connection.close()


async def check_endpoints() -> dict:
    """OpenAI-compatible endpoints, each probed (its /models list). A broken endpoint
    shows here but leaves the site healthy: every other model keeps serving."""
    from playground.endpoints import probe
    from playground.selectors import endpoint_configs_enabled

    def configs():
        try:
            return endpoint_configs_enabled()
        finally:
            connection.close()

    started = time.perf_counter()
    try:
        endpoints = list(await asyncio.gather(*(probe(c) for c in await sync_to_async(
            configs, thread_sensitive=False)())))
        result = {"ok": all(e["state"] == "up" for e in endpoints), "endpoints": endpoints}
    except Exception as exc:
        result = {"ok": False, "endpoints": [], "error": f"{type(exc).__name__}: {exc}"}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def health_report() -> dict:
    database, channel_layer, celery, models, training, endpoints = await asyncio.gather(
        sync_to_async(check_database, thread_sensitive=False)(),
        check_channel_layer(),
        sync_to_async(check_celery, thread_sensitive=False)(),
        check_model_workers(),
        sync_to_async(check_training, thread_sensitive=False)(),
        check_endpoints(),
    )
    report = {
        "database": database,
        "channel_layer": channel_layer,
        "celery": celery,
        "model_workers": models,
        "training": training,
        "endpoints": endpoints,
        "mode": "embedded" if settings.LLM_EMBEDDED_WORKER else "production",
    }
    report["ok"] = all(part["ok"] for part in (database, channel_layer, celery, models, training))
    return report


def public_summary(report: dict) -> dict:
    """The report with nothing about people or infrastructure: for each part its ok flag
    and counts (numbers stay, lists become their length); names, errors, hosts and
    timings go. Model workers add their states and how many models they hold."""
    summary = {"ok": report["ok"], "mode": report["mode"]}
    for key, part in report.items():
        if not isinstance(part, dict):
            continue
        summary[key] = {"ok": part.get("ok", False)}
        for name, value in part.items():
            if isinstance(value, int) and not isinstance(value, bool) and name != "ms":
                summary[key][name] = value
            elif isinstance(value, list):
                summary[key][name] = len(value)
    workers = report["model_workers"].get("workers", [])
    states: dict[str, int] = {}
    for worker in workers:
        states[worker.get("state", "?")] = states.get(worker.get("state", "?"), 0) + 1
    summary["model_workers"] |= {"states": states, "models_loaded": sum(len(w.get("models", [])) for w in workers)}
    endpoint_states: dict[str, int] = {}
    for endpoint in report.get("endpoints", {}).get("endpoints", []):
        endpoint_states[endpoint["state"]] = endpoint_states.get(endpoint["state"], 0) + 1
    summary["endpoints"] = {"ok": report.get("endpoints", {}).get("ok", True), "count": sum(endpoint_states.values()),
                            "states": endpoint_states}
    return summary
