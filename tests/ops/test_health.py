"""/healthz against real parts: the database, the channel layer, a real Celery worker
process on the configured broker, and a real model worker with the default models.
The public answer holds states and counts; admins get the details at /health/."""

import json

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from accounts.models import Role
from ops.health import public_summary
from playground.models import ModelEntry, ModelKind
from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def admin_client():
    client = AsyncClient()
    await sync_to_async(client.force_login)(await sync_to_async(make_user)(Role.ADMIN))
    return client


async def test_healthz_reports_every_part(model_worker, celery_worker):
    response = await AsyncClient().get("/healthz")
    report = json.loads(response.content)
    assert response.status_code == 200, report
    assert report["ok"] is True
    assert report["database"]["ok"] and report["channel_layer"]["ok"]
    assert report["celery"] == {"ok": True, "workers": 1}
    assert report["model_workers"] == {"ok": True, "workers": 1, "states": {"ready": 1}, "models_loaded": 2}

    detail = await (await admin_client()).get("/health/")
    report = json.loads(detail.content)
    assert detail.status_code == 200 and celery_worker in report["celery"]["workers"]
    (worker,) = report["model_workers"]["workers"]
    loaded = {m["name"]: m for m in worker["models"]}
    assert set(loaded) == {"smollm2-135m-instruct", "minilm-l6-v2"}
    assert all(m["load_seconds"] > 0 for m in loaded.values())


async def test_healthz_names_no_model_and_the_details_are_for_admins(model_worker, celery_worker):
    body = (await AsyncClient().get("/healthz")).content.decode()
    assert "smollm2" not in body and "minilm" not in body and "test-worker" not in body
    anonymous = await AsyncClient().get("/health/")
    assert anonymous.status_code == 302  # to the login page
    employee = AsyncClient()
    await sync_to_async(employee.force_login)(await sync_to_async(make_user)(Role.EMPLOYEE))
    assert (await employee.get("/health/")).status_code == 403


async def test_a_loaded_fine_tune_is_named_for_admins_only(model_worker):
    from tests.playground.helpers import collect, connect, login_cookie

    # An employee's fine-tune, loaded on demand by its owner's generation, is named after them.
    owner = await sync_to_async(make_user)(Role.EMPLOYEE, username="ximena")
    base = await ModelEntry.objects.aget(name="smollm2-135m-instruct")
    await ModelEntry.objects.acreate(name="ft-9-ximena", display_name="Ximena's tune", kind=ModelKind.CAUSAL_LM,
                                     source=base.source, owner=owner)
    comm = await connect((await login_cookie(owner))[0])
    await comm.send_json_to({"type": "start", "model": "ft-9-ximena", "mode": "completion", "prompt": "Hi",
                             "params": {"temperature": 0, "max_new_tokens": 2}})
    assert (await collect(comm))[2]["type"] == "done"
    await comm.disconnect()
    assert "ft-9-ximena" in (await (await admin_client()).get("/health/")).content.decode()
    body = (await AsyncClient().get("/healthz")).content.decode()
    assert "ximena" not in body and "ft-" not in body
    assert json.loads(body)["model_workers"]["models_loaded"] == 3


@pytest.mark.django_db
def test_the_public_summary_drops_a_loaded_fine_tune_named_after_its_owner():
    # A fine-tune loaded on demand is named ft-<job>-<username>; the summary counts it.
    worker = {"name": "gpu-host-3", "state": "ready", "models": [
        {"name": "smollm2-135m-instruct", "load_seconds": 1.2}, {"name": "ft-7-ximena", "load_seconds": 0.4}]}
    report = {"ok": False, "mode": "production", "database": {"ok": True, "vendor": "postgresql", "ms": 1},
              "channel_layer": {"ok": True, "backend": "RedisChannelLayer", "ms": 1},
              "celery": {"ok": False, "error": "OperationalError: redis://10.0.0.5:6379", "ms": 2},
              "model_workers": {"ok": True, "workers": [worker], "ms": 3}}
    summary = json.dumps(public_summary(report))
    assert "ximena" not in summary and "ft-" not in summary and "gpu-host" not in summary
    assert "10.0.0.5" not in summary
    assert public_summary(report)["model_workers"] == {"ok": True, "workers": 1, "states": {"ready": 1},
                                                       "models_loaded": 2}
    # A part added later keeps its ok flag and counts, nothing else
    report["training"] = {"ok": True, "stale_jobs": 0, "ms": 1.5, "detail": "ft-7-ximena"}
    assert public_summary(report)["training"] == {"ok": True, "stale_jobs": 0}


async def test_healthz_is_503_when_no_model_worker_answers(celery_worker):
    response = await AsyncClient().get("/healthz")
    report = json.loads(response.content)
    assert response.status_code == 503
    assert report["model_workers"] == {"ok": False, "workers": 0, "states": {}, "models_loaded": 0}
    assert report["database"]["ok"] and report["celery"]["ok"]
    detail = json.loads((await (await admin_client()).get("/health/")).content)
    assert detail["model_workers"]["error"] == "no model worker answered"
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
