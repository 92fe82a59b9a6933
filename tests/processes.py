"""Real worker processes for tests: a Celery worker on the configured broker, and an
ASGI server (with a model worker) for browser tests. They share the test database."""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def child_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",  # same password hasher as the test process
        DATABASE_URL=test_database_url(),
        LLM_VAR_DIR=str(settings.VAR_DIR),
        PYTHONUNBUFFERED="1",
    )
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        env["CELERY_BROKER_DIR"] = str(settings.CELERY_BROKER_DIR)
    env.update(extra)
    return env


def stop(proc: subprocess.Popen):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """Start a real `celery worker` process; yields its node name once it answers a ping."""
    from config.celery import app

    name = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    log = open(settings.VAR_DIR / "test-celery.log", "w")  # noqa: SIM115  (closed below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", name, "--concurrency", "1",
         "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--loglevel", "INFO"],
        cwd=ROOT, env=child_env(), stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"Celery worker exited with {proc.returncode}; see {log.name}")
        replies = app.control.ping(destination=[name], timeout=1)
        if replies:
            break
    else:
        stop(proc)
        pytest.fail(f"Celery worker did not answer a ping within 60 s; see {log.name}")
    yield name
    stop(proc)
    log.close()


def health(url: str, *, admin_session: str | None = None) -> dict:
    """The public /healthz (states and counts), or with an admin's session id the detailed
    /health/ report, which names each worker."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url + ("/health/" if admin_session else "/healthz"))  # noqa: S310
    if admin_session:
        request.add_header("Cookie", f"sessionid={admin_session}")
    try:
        with urllib.request.urlopen(request, timeout=5) as r:  # noqa: S310  (our own local server)
            return json.load(r)
    except urllib.error.HTTPError as exc:  # 503 still carries the report
        return json.load(exc)
    except OSError:  # not listening yet
        return {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def asgi_server(django_db_setup, django_db_blocker):
    """A real uvicorn server on the test database; in production mode also a separate
    model worker process on Redis, as in a deployment. Yields the base URL."""
    with django_db_blocker.unblock():
        from playground.services import models_provision_defaults

        models_provision_defaults(log=lambda *_: None)
        connection.close()
    port = free_port()
    procs = []
    logs = []
    embedded = not settings.REDIS_URL
    env = child_env(LLM_EMBEDDED_WORKER="1" if embedded else "0", ALLOWED_HOSTS="127.0.0.1,localhost")
    if not embedded:
        log = open(settings.VAR_DIR / "test-model-worker.log", "w")  # noqa: SIM115
        logs.append(log)
        procs.append(subprocess.Popen([sys.executable, "manage.py", "model_worker", "--device", "cpu"],
                                      cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    log = open(settings.VAR_DIR / "test-uvicorn.log", "w")  # noqa: SIM115
    logs.append(log)
    # Production serves from several processes (DEPLOY.md), so the browser tests' pages and
    # sockets land on either of two; the embedded default is one process by design.
    server = (["-m", "uvicorn", "config.asgi:application", "--lifespan", "on", "--ws", "websockets-sansio"]
              if embedded else ["-m", "ops.webserver", "--workers", "2"])  # as DEPLOY.md runs it
    web = subprocess.Popen([sys.executable, *server, "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                           stderr=subprocess.STDOUT)
    procs.append(web)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    ready = False
    while time.monotonic() < deadline and not ready:
        if any(p.poll() is not None for p in procs):
            break
        # Ready once the model worker reports its models (no Celery worker runs here).
        ready = health(url).get("model_workers", {}).get("ok", False)
        if not ready:
            time.sleep(0.5)
    if not ready:
        for p in procs:
            stop(p)
        pytest.fail(f"ASGI server did not become healthy; see {[lg.name for lg in logs]}")
    yield url
    for p in procs:
        stop(p)
    for lg in logs:
        lg.close()
