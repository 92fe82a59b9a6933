"""Small helpers to read settings from the environment."""

import os

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    """An empty variable counts as unset, so `FOO= make run` gives the default."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false).")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def get_mandatory_secret(name: str) -> str:
    """Fail loudly at start rather than run production with a guessable secret."""
    value = os.environ.get(name, "")
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set in production. Generate one with: "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    return value
