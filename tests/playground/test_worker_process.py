"""The model worker as its own process (`manage.py model_worker`), as in production."""

import subprocess
import sys
import time

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from playground.client import ping_workers
from playground.services import models_provision_defaults
from tests.playground.helpers import collect, connect, login_cookie, start
from tests.processes import ROOT, child_env, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


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
