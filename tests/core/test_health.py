"""/healthz against real parts: the database, the channel layer, a real Celery worker
process on the configured broker, and a real model worker with the default models."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def test_healthz_reports_every_part(model_worker, celery_worker):
    response = await AsyncClient().get("/healthz")
    report = json.loads(response.content)
    assert response.status_code == 200, report
    assert report["ok"] is True
    assert report["database"]["ok"]
    assert report["channel_layer"]["ok"]
    assert celery_worker in report["celery"]["workers"]
    (worker,) = report["model_workers"]["workers"]
    assert worker["state"] == "ready"
    loaded = {m["name"]: m for m in worker["models"]}
    assert set(loaded) == {"smollm2-135m-instruct", "minilm-l6-v2"}
    assert all(m["load_seconds"] > 0 for m in loaded.values())


async def test_healthz_is_503_when_no_model_worker_answers(celery_worker):
    response = await AsyncClient().get("/healthz")
    report = json.loads(response.content)
    assert response.status_code == 503
    assert report["model_workers"] == {"ok": False, "workers": [], "error": "no model worker answered", "ms": report["model_workers"]["ms"]}
    assert report["database"]["ok"] and report["celery"]["ok"]
    await sync_to_async(lambda: None)()
