"""Production settings: `check --deploy` passes with the required environment, and a
missing secret stops the start. Each runs in a fresh interpreter, as a deploy would."""

import os
import subprocess
import sys

from django.conf import settings

PROD_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 60 + "-a-long-random-production-secret",
    "ALLOWED_HOSTS": "academy.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/llm_academy",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def manage(*args, env):
    clean = {k: v for k, v in os.environ.items() if k not in PROD_ENV and k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env={**clean, **env},
        capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_passes_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_missing_secret_fails_loudly_at_start():
    env = {k: v for k, v in PROD_ENV.items() if k != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr


def test_embedded_default_uses_sqlite_in_memory_layer_and_filesystem_broker():
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.base"}
    for key in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env[key] = ""
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_BROKER_URL, s.LLM_EMBEDDED_WORKER)"
    )
    result = manage("shell", "-c", code, env=env)
    assert result.stdout.strip().splitlines()[-1].split() == [
        "django.db.backends.sqlite3", "channels.layers.InMemoryChannelLayer", "filesystem://localhost//", "True"
    ], result.stderr


def test_redis_url_switches_layer_and_broker():
    env = {"DJANGO_SETTINGS_MODULE": "config.settings.base", "REDIS_URL": "redis://127.0.0.1:6379/3",
           "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "CELERY_BROKER_URL": ""}
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.CHANNEL_LAYERS['default']['BACKEND'], s.CELERY_BROKER_URL, s.LLM_EMBEDDED_WORKER)"
    )
    result = manage("shell", "-c", code, env=env)
    assert result.stdout.strip().splitlines()[-1].split() == [
        "django.db.backends.postgresql", "channels_redis.core.RedisChannelLayer", "redis://127.0.0.1:6379/3", "False"
    ], result.stderr
