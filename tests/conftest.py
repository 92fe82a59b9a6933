"""Shared fixtures. The suite runs twice (bin/test): on the embedded default and on
PostgreSQL + Redis. A service the configuration needs that is down fails the run
with a message saying so; nothing is skipped silently."""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

from accounts.models import Role
from tests.factories import make_team, make_user

pytest_plugins = ["tests.processes", "tests.model_fixtures", "tests.object_store", "tests.llama_server",
                  "tests.idp.oidc", "tests.idp.simplesamlphp"]


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), 2):
            return True
    except OSError:
        return False


def pytest_sessionstart(session):
    problems = []
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql") and not _reachable(f"//{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}", 5432):
        problems.append(
            f"PostgreSQL is not reachable at {db['HOST']}:{db['PORT']} (DATABASE_URL). Start it with: "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    if settings.REDIS_URL and not _reachable(settings.REDIS_URL, 6379):
        problems.append(
            f"Redis is not reachable at {settings.REDIS_URL} (REDIS_URL). Start it with: "
            "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"
        )
    if problems:
        pytest.exit("Required services are down:\n  " + "\n  ".join(problems), returncode=3)


def pytest_collection_modifyitems(config, items):
    # Browser tests last: the other tests get their (fast) failures in first.
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    return [
        f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('NAME')}",
        f"channel layer: {settings.CHANNEL_LAYERS['default']['BACKEND'].rsplit('.', 1)[-1]}",
        f"celery broker: {settings.CELERY_BROKER_URL.split('@')[-1]}",
    ]


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Give each test a new channel layer instance.

    pytest-asyncio runs each test in a new event loop. With Redis, a receive that was
    blocked when the previous test's loop closed stays queued in the server and would
    swallow the next message sent to this process's `specific.` channels; a new layer
    instance has a new client prefix, so those leftovers can't match. (A real process
    has one loop for its whole life, so this only concerns tests.)
    """
    from channels.layers import channel_layers

    channel_layers.backends.pop("default", None)
    yield
    channel_layers.backends.pop("default", None)


@pytest.fixture
def team(db):
    return make_team("Blue team")


@pytest.fixture
def employee(db, team):
    return make_user(Role.EMPLOYEE, team=team)


@pytest.fixture
def manager(db, team):
    return make_user(Role.MANAGER, team=team)


@pytest.fixture
def admin_user(db):
    return make_user(Role.ADMIN)


@pytest.fixture
def production_mode():
    return bool(os.environ.get("REDIS_URL"))
