"""The model worker as its own process (`manage.py model_worker`), as in production."""

import subprocess
import sys
import time

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from playground.client import ping_workers
from playground.services import models_provision_defaults
from tests.playground.helpers import (
    close_orm_thread,  # noqa: E402, F401  (a fixture, used below)
    collect,
    connect,
    login_cookie,
    start,
)
from tests.processes import ROOT, child_env, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("close_orm_thread")]


async def test_separate_worker_process_streams_end_to_end():
    if not settings.REDIS_URL:
        # Embedded mode has no cross-process channel layer: the command must say so
        # instead of starting a worker nobody can reach.
        result = subprocess.run([sys.executable, "manage.py", "model_worker"], cwd=ROOT, env=child_env(),
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2
        assert "in-memory channel layer cannot reach other processes" in result.stderr
        return
    await sync_to_async(models_provision_defaults)(log=lambda *_: None)
    log = open(settings.VAR_DIR / "test-worker-process.log", "w")  # noqa: SIM115  (closed below)
    worker = subprocess.Popen([sys.executable, "manage.py", "model_worker", "--device", "cpu", "--name", "proc-test"],
                              cwd=ROOT, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            replies = [w for w in await ping_workers(timeout=1.0) if w["name"] == "proc-test"]
            if replies and replies[0]["state"] == "ready":
                break
            assert worker.poll() is None, f"model worker exited; see {log.name}"
        else:
            pytest.fail(f"model worker not ready in 120 s; see {log.name}")
        cookie, _ = await login_cookie()
        comm = await connect(cookie)
        await start(comm, max_new_tokens=6)
        started, tokens, done = await collect(comm)
        assert started["worker"] == "proc-test"
        assert len(tokens) == done["completion_tokens"] >= 1
        assert done["type"] == "done"
        await comm.disconnect()
    finally:
        stop(worker)
        log.close()


def _start_worker(name: str, log_name: str):
    log = open(settings.VAR_DIR / log_name, "w")  # noqa: SIM115  (closed by the caller)
    proc = subprocess.Popen([sys.executable, "manage.py", "model_worker", "--device", "cpu", "--name", name],
                            cwd=ROOT, env=child_env(), stdout=log, stderr=subprocess.STDOUT)
    return proc, log


async def _wait_ready(proc, name: str, log, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = [w for w in await ping_workers(timeout=0.5) if w["name"] == name]
        if replies and replies[0]["state"] == "ready":
            return
        assert proc.poll() is None, f"model worker exited; see {log.name}"
    pytest.fail(f"model worker not ready in {timeout} s; see {log.name}")


async def test_a_killed_worker_fails_its_run_at_once_and_a_restarted_one_serves_the_same_employee(settings):
    if not settings.REDIS_URL:
        return  # embedded: the worker lives and dies with the server (see the test above)
    import os
    import signal

    from playground.models import PlaygroundRun, RunStatus

    settings.LLM_MAX_CONCURRENT_PER_USER = 1  # the dead run must not keep the only slot
    await sync_to_async(models_provision_defaults)(log=lambda *_: None)
    worker, log = _start_worker("doomed", "test-worker-kill.log")
    try:
        await _wait_ready(worker, "doomed", log)
        cookie, user = await login_cookie()
        comm = await connect(cookie)
        await start(comm, max_new_tokens=400, temperature=0.8, seed=1, prompt="Once upon a time, in a city of robots,")
        seen = []
        while len(seen) < 3:
            event = await comm.receive_json_from(timeout=60)
            assert event["type"] in ("started", "token"), event
            if event["type"] == "token":
                seen.append(event)
        os.kill(worker.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        while True:
            event = await comm.receive_json_from(timeout=10)
            if event["type"] != "token":
                break
            seen.append(event)
        assert time.monotonic() - killed_at < 10
        assert event["type"] == "error" and event["code"] == "worker_lost", event
        assert event["message"] and "worker" in event["message"]
        run = await PlaygroundRun.objects.aget(user=user)
        assert run.status == RunStatus.ERROR and run.finish_reason == "worker_lost"
        assert [t["id"] for t in run.tokens] == [t["id"] for t in seen]  # what streamed is kept
        # The socket is free again, and a restarted worker serves the same employee at once.
        worker.wait(10)
        log.close()
        worker, log = _start_worker("reborn", "test-worker-reborn.log")
        await _wait_ready(worker, "reborn", log)
        await start(comm, max_new_tokens=4)
        started, tokens, done = await collect(comm, timeout=30)
        assert done["type"] == "done" and started["worker"] == "reborn" and len(tokens) == 4
        assert not await PlaygroundRun.objects.filter(status=RunStatus.RUNNING).aexists()
        await comm.disconnect()
    finally:
        stop(worker)
        log.close()
