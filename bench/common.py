"""Helpers shared by the benchmarks: a throwaway embedded site in var/bench and its users."""

import http.cookiejar
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-123"  # noqa: S105  (a throwaway user in var/bench)
VAR_DIR = ROOT / "var" / "bench"


def env(var_dir: Path = VAR_DIR) -> dict:
    e = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    e.update(LLM_VAR_DIR=str(var_dir), LLM_MODEL_DIR=str(ROOT / "var" / "models"), LLM_EMBEDDED_WORKER="1",
             LLM_MAX_CONCURRENT_PER_USER="4", LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="config.settings.base")
    return e


def manage(*args, var_dir: Path = VAR_DIR):
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env(var_dir), check=True,
                   stdout=subprocess.DEVNULL)


def prepare(users: list[str]):
    """Migrate, provision the models and create the benchmark users."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    manage("migrate")
    manage("provision_models")
    for user in users:
        manage("people", "add", user, "--password", PASSWORD)


def login(base: str, username: str) -> str:
    """Log in through the real form; returns the Cookie header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(base + "/accounts/login/")
    token = next(c.value for c in jar if c.name == "csrftoken")
    data = urllib.parse.urlencode({"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token}).encode()
    request = urllib.request.Request(base + "/accounts/login/", data=data, headers={"Referer": base + "/"})  # noqa: S310
    opener.open(request)  # noqa: S310  (both: our own local server)
    return "; ".join(f"{c.name}={c.value}" for c in jar)


@contextmanager
def server(port: int):
    """Run uvicorn with the embedded model worker until its models are loaded."""
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port),
                             "--lifespan", "on", "--ws", "websockets-sansio", "--log-level", "warning"], cwd=ROOT, env=env())
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as r:  # noqa: S310  (local server)
                    report = json.load(r)
            except urllib.error.HTTPError as exc:
                report = json.load(exc)
            except OSError:
                report = {}
            if report.get("model_workers", {}).get("ok"):
                break
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


@contextmanager
def celery_worker(extra_env: dict | None = None, queue: str = "default"):
    """Run the product's Celery worker (as `manage.py serve` starts it) on the bench site."""
    proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1",
                             "--loglevel", "WARNING", "-Q", queue, "-n", f"bench-{os.getpid()}@%h"],
                            cwd=ROOT, env={**env(), **(extra_env or {})})
    try:
        time.sleep(3)  # the filesystem broker has no handshake; a task sent early waits in the queue anyway
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)
