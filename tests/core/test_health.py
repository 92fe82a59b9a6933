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


async def test_healthz_reports_a_fine_tune_left_running_with_a_stale_heartbeat(settings):
    """A phantom job (its worker died, recovery has not run) makes /healthz say so."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Role
    from tests.factories import make_user
    from training.models import FineTuneJob, JobStatus

    def make_jobs():
        user = make_user(Role.EMPLOYEE)
        old = timezone.now() - timedelta(seconds=settings.TRAINING_HEARTBEAT_STALE_SECONDS + 5)
        for heartbeat in (old, timezone.now()):  # one phantom, one healthy runner
            FineTuneJob.objects.create(user=user, name="j", kind="causal_lm", queue_name="default", attempts=1,
                                       status=JobStatus.RUNNING, started_at=old, heartbeat_at=heartbeat)

    await sync_to_async(make_jobs)()
    response = await AsyncClient().get("/healthz")
    report = json.loads(response.content)
    assert response.status_code == 503 and report["ok"] is False
    assert report["training"]["stale_jobs"] == 1 and report["training"]["ok"] is False
