"""Production: the base settings plus the hardening `check --deploy` asks for.

Everything still comes from the environment; a missing secret stops the start.
"""

from .base import *  # noqa: F403  (settings modules layer by star import)
from .env import env_bool, env_int, get_mandatory_secret

SECRET_KEY = get_mandatory_secret("SECRET_KEY")
DEBUG = False

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# A TLS-terminating proxy in front sets this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [
    # Joining the browsers' HSTS preload list is hard to undo and is the company's
    # call for its whole domain, so it stays opt-in (SECURE_HSTS_PRELOAD=1).
    "security.W021",
]
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Hashed, compressed files from `collectstatic`, cached forever by browsers.
STORAGES = {
    "default": STORAGES["default"],  # noqa: F405  (artifacts: S3 when LLM_S3_BUCKET is set)
    "staticfiles": {"BACKEND": "core.static_storage.StaticFilesStorage"},  # whitenoise's, URLs kept
}
WHITENOISE_USE_FINDERS = False

# A pool of PostgreSQL connections per web process (DB_POOL_MAX_SIZE, set on web hosts):
# a sync view runs in its own thread, so persistent connections (CONN_MAX_AGE) would open
# one per thread, and opening one per request costs more than many a page. Size it so
# that processes × max_size stays under the server's max_connections. Off by default:
# Celery's prefork workers inherit connections across fork and gain nothing from it.
if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_int("DB_POOL_MAX_SIZE", 0) > 0:  # noqa: F405
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405  (the pool keeps the connections)
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {  # noqa: F405
        "min_size": 1, "max_size": env_int("DB_POOL_MAX_SIZE", 0), "timeout": 10}
