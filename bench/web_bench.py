"""The web tier under load, production configuration: the lesson page against a trivial
view on the same server, with N concurrent keep-alive clients, in one run. The two pages
alternate in rounds (trivial, lesson, lesson, trivial, ...), so that both see the same
background load on a shared machine.

Production settings (config.settings.production, plus the trivial view: bench/web_settings.py)
on PostgreSQL and Redis, static files collected into the manifest, the server started as
DEPLOY.md says (python -m ops.webserver: WEB_CONCURRENCY processes, each on its own
SO_REUSEPORT socket; DB_POOL_MAX_SIZE=8). Each client is a closed loop: it sends its next
request when the last answer arrived, so latency = clients / throughput.

    .venv/bin/python bench/web_bench.py [--clients 20] [--seconds 15] [--rounds 3] [--workers 2]

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/llm_academy_bench, created
if missing) and REDIS_URL (default redis://127.0.0.1:6379/15) pick the services.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSON = "/learn/how-llms-work/lessons/02-transformer-attention/"
TRIVIAL = "/bench/trivial/"

SEED = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from accounts.models import Role
from accounts.services import user_create_or_update
from courseapp.services import course_seed_builtin, lesson_complete
course = course_seed_builtin(log=lambda *_: None)
user = user_create_or_update(username="bench-learner", name="Bench Learner", role=Role.EMPLOYEE, password=None)
# Complete what the measured lesson needs, so that the learner reads it (not its locked page).
needed, todo = [], ["02-transformer-attention"]
while todo:
    for slug in course.lessons.get(slug=todo.pop()).prerequisites:
        needed.insert(0, slug)
        todo.append(slug)
for slug in dict.fromkeys(needed):
    lesson_complete(user=user, lesson=course.lessons.get(slug=slug))
s = SessionStore()
s[SESSION_KEY], s[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
s[HASH_SESSION_KEY] = user.get_session_auth_hash()
s.create()
print(s.session_key)
"""


def bench_env(workers: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.web_settings", SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/llm_academy_bench",
        REDIS_URL=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15", CELERY_BROKER_URL="",
        LLM_VAR_DIR=str(ROOT / "var" / "web-bench"), ALLOWED_HOSTS="127.0.0.1", LOG_LEVEL="WARNING",
        SECURE_SSL_REDIRECT="0", WEB_CONCURRENCY=str(workers), DB_POOL_MAX_SIZE=os.environ.get("DB_POOL_MAX_SIZE", "8"),
    )
    return env


def ensure_database(url: str):
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(env: dict, *args: str) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


async def fetch(reader, writer, request: bytes) -> int:
    """One request on a keep-alive connection; returns the status code."""
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
    if chunked:
        while (size := int((await reader.readline()).strip(), 16)):
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(length)
    return int(status_line.split()[1])


async def load(port: int, path: str, cookie: str, clients: int, seconds: float) -> dict:
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Forwarded-Proto: https\r\n"
               f"Cookie: {cookie}\r\nConnection: keep-alive\r\n\r\n").encode()
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + seconds

    async def client():
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            status = await fetch(reader, writer, request)
            latencies.append(time.perf_counter() - started)
            errors += status != 200
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return summary([(latencies, time.monotonic() - started, errors)])


def summary(parts: list[tuple[list[float], float, int]]) -> dict:
    """Throughput and percentiles over several load windows (latencies, seconds, errors)."""
    latencies = [x for part in parts for x in part[0]]
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / sum(p[1] for p in parts), "p50": q[49] * 1000, "p95": q[94] * 1000,
            "p99": q[98] * 1000, "n": len(latencies), "errors": sum(p[2] for p in parts), "parts": parts}


def first_visit(port: int, session: str) -> str:
    """Open the lesson once, as a browser would, and return the Cookie header a browser
    sends from then on: the session and the CSRF cookie the page set. (Without the CSRF
    cookie, every lesson view would make a new CSRF secret and set it again.) The measured
    page must be the lesson itself, not the page saying it is locked."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{LESSON}", headers={  # noqa: S310  (our local server)
        "Cookie": f"sessionid={session}", "X-Forwarded-Proto": "https"})
    with urllib.request.urlopen(request) as response:  # noqa: S310
        html = response.read().decode()
        jar = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
    if 'class="lesson-body' not in html:
        raise SystemExit(f"{LESSON} is not open to the bench learner (locked?); the bench would measure the wrong page")
    if "csrftoken" not in jar:
        raise SystemExit("the lesson page set no CSRF cookie")
    return f"sessionid={session}; csrftoken={jar['csrftoken'].value}"


async def overlap(port: int, cookie: str, n: int = 8) -> float:
    """Seconds until n simultaneous requests to /bench/sleep/ have all been answered."""
    request = (f"GET /bench/sleep/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Forwarded-Proto: https\r\n"
               f"Cookie: {cookie}\r\n\r\n").encode()
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(n)]
    started = time.perf_counter()
    statuses = await asyncio.gather(*(fetch(reader, writer, request) for reader, writer in connections))
    took = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    assert statuses == [200] * n, statuses
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=15, help="per page, over all rounds")
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate the two pages in this many windows each, so that both see the "
                             "same background load on a shared machine")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="web processes (WEB_CONCURRENCY)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    env = bench_env(args.workers)
    ensure_database(env["DATABASE_URL"])
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    session = manage(env, "shell", "-c", SEED).strip().splitlines()[-1]

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(  # as DEPLOY.md starts it (WEB_CONCURRENCY processes)
        [sys.executable, "-m", "ops.webserver", "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=env)
    try:
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.25)
        cookie = first_visit(port, session)
        # Warm every worker process (imports, template loading, connections) before measuring.
        for path in (TRIVIAL, LESSON):
            asyncio.run(load(port, path, cookie, args.clients, 3))
        # Sync views overlap within a process (Django gives each request its own thread):
        # 8 views that each sleep 0.2 s take about 0.2 s, not 8 × 0.2 s ÷ processes.
        took = asyncio.run(overlap(port, cookie))
        print(f"8 concurrent sync views that sleep 0.2 s: all answered in {took * 1000:.0f} ms "
              f"on {args.workers} processes")
        pages = {"trivial view": TRIVIAL, "lesson page": LESSON}
        windows: dict[str, list] = {name: [] for name in pages}
        for round_ in range(args.rounds):
            for name in (list(pages) if round_ % 2 == 0 else list(pages)[::-1]):
                windows[name] += asyncio.run(load(port, pages[name], cookie, args.clients,
                                                  args.seconds / args.rounds))["parts"]
        results = {name: summary(parts) for name, parts in windows.items()}
        for name, r in results.items():
            print(f"{name}, production: {r['rps']:.1f} requests/s, p50 {r['p50']:.0f} ms, p95 {r['p95']:.0f} ms, "
                  f"p99 {r['p99']:.0f} ms ({r['n']} requests in {args.rounds} windows, {r['errors']} not 200)")
    finally:
        server.terminate()
        server.wait(30)
    ratio = results["lesson page"]["rps"] / results["trivial view"]["rps"]
    print(f"{args.clients} clients, {args.workers} web processes, {os.cpu_count()} CPU cores, "
          f"load average before: {load_before:.2f}")
    print(f"lesson page / trivial view throughput: {ratio:.2f}x (target >= 0.5x); "
          f"lesson p95 {results['lesson page']['p95']:.0f} ms (target < 200 ms)")
    return 0 if all(r["errors"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
