"""The release steps of docs/DEPLOY.md, as an operator runs them, on production settings:
`check --deploy`, `migrate` on an empty database, `collectstatic` into an empty
STATIC_ROOT with the manifest storage, then a real uvicorn server (two worker
processes) serving every page type through the hashed files of that manifest."""

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from http.cookies import SimpleCookie

import pytest
from django.conf import settings

from tests.processes import free_port

pytestmark = pytest.mark.slow

STATIC_REF = re.compile(r"""(?:src|href)=["'](/static/[^"'?#]+)""")


@pytest.fixture
def release_db(tmp_path):
    """An empty database of the configuration's kind, dropped afterwards."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        yield f"sqlite:///{tmp_path / 'release.sqlite3'}"
        return
    import psycopg

    name = f"{db['NAME']}_release"
    admin_url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{admin_url}/{name}"
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Browser:
    """Just enough of a browser behind a TLS proxy: cookies (which are Secure, so kept
    by hand), X-Forwarded-Proto and the Referer that Django's CSRF check wants on HTTPS."""

    def __init__(self, base: str):
        self.base = base
        self.cookies: dict[str, str] = {}

    def request(self, path: str, data: dict | None = None) -> tuple[int, Message, bytes]:
        headers = {"X-Forwarded-Proto": "https", "Referer": f"https://{self.base.split('://')[1]}{path}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers=headers)  # noqa: S310  (our own server)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(req, timeout=30) as r:
                status, resp_headers, content = r.status, r.headers, r.read()
        except urllib.error.HTTPError as exc:
            status, resp_headers, content = exc.code, exc.headers, exc.read()
        for value in resp_headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value
        return status, resp_headers, content

    def login(self, username: str, password: str):
        status, _, html = self.request("/accounts/login/")
        assert status == 200, html[:500]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1).decode()
        status, headers, html = self.request("/accounts/login/", {
            "csrfmiddlewaretoken": token, "username": username, "password": password})
        assert status == 302, (status, html[:2000])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_release_steps_on_production_settings_serve_every_page_through_the_manifest(release_db, tmp_path):
    var = tmp_path / "var"
    static_root = var / "staticfiles"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production", SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1", DATABASE_URL=release_db, LLM_VAR_DIR=str(var), LLM_EMBEDDED_WORKER="0",
        PYTHONUNBUFFERED="1", CELERY_BROKER_DIR=str(var / "celery-broker"), WEB_CONCURRENCY="2", DB_POOL_MAX_SIZE="4",
    )

    def manage(*args):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result.stdout

    # The release steps, in DEPLOY.md's order, from nothing.
    assert not any(static_root.glob("*")), "STATIC_ROOT must start empty"
    assert "no issues" in manage("check", "--deploy", "--fail-level", "WARNING")
    manage("migrate", "--noinput")
    manage("collectstatic", "--noinput")
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    assert "app.css" in "".join(manifest) and "vendor/chartjs/chart.umd.min.js" in manifest
    manage("seed_demo")
    passwords = json.loads((var / "demo-credentials.json").read_text())

    # The web tier as DEPLOY.md starts it: several processes (WEB_CONCURRENCY), ops/webserver.py.
    port = free_port()
    log = open(var / "uvicorn.log", "w")  # noqa: SIM115  (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "ops.webserver", "--port", str(port)],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (var / "uvicorn.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (var / "uvicorn.log").read_text()
                time.sleep(0.3)

        anonymous = Browser(base)
        employee, manager, admin = Browser(base), Browser(base), Browser(base)
        employee.login("employee", passwords["employee"])
        manager.login("manager", passwords["manager"])
        admin.login("admin", passwords["admin"])

        status, _, catalog = employee.request("/learn/")
        assert status == 200
        status, _, course = employee.request("/learn/how-llms-work/")
        assert status == 200, course[:500]
        lesson = re.search(rb'href="(/learn/how-llms-work/lessons/[^"/]+/)"', course).group(1).decode()
        quiz = re.search(rb'href="(/learn/how-llms-work/quizzes/[^"/]+/)"', course).group(1).decode()
        pages = [
            (employee, "/learn/"), (employee, lesson), (admin, quiz), (employee, "/playground/"),
            (employee, "/playground/attention/"), (employee, "/training/"), (employee, "/me/progress/"),
            (manager, "/team/"), (admin, "/training/backend/"), (admin, "/curation/"), (anonymous, "/admin/login/"),
            (anonymous, "/accounts/login/"),
        ]
        static_seen: set[str] = set()
        for who, path in pages:
            status, headers, html = who.request(path)
            assert status == 200, (path, status, html[:1000])
            refs = STATIC_REF.findall(html.decode())
            assert refs, f"{path} loads no static file"
            for ref in refs:
                name = ref.removeprefix(settings.STATIC_URL)
                # Every reference is a hashed name from the manifest, never the source name.
                assert name in manifest.values(), f"{path} refers to {ref}, which is not a hashed manifest entry"
                static_seen.add(ref)
        for ref in sorted(static_seen):
            status, headers, body = anonymous.request(ref)
            assert status == 200 and body, ref
            assert "immutable" in headers.get("Cache-Control", ""), (ref, headers)

        # /healthz answers with its report (503 here: no Celery or model worker runs).
        status, _, body = anonymous.request("/healthz")
        report = json.loads(body)
        assert status in (200, 503) and report["database"]["ok"], report
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
