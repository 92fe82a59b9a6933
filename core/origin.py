"""A strict Origin check for WebSocket handshakes.

Channels' AllowedHostsOriginValidator compares only the host name, so a page served
on another port of our host (http://localhost:9999) could open our socket with the
visitor's cookies. Here, as in Django's CSRF check for forms, the Origin must be
exactly our own origin (scheme, host and port of the handshake, the host being in
ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def _secure(scope, headers: dict[bytes, bytes]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:  # the same trust Django's request.is_secure() gives the TLS proxy
        name, value = proxy
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        return headers.get(header, b"").decode("latin-1").split(",")[0].strip() == value
    return False


def _trusted(origin: str) -> bool:
    parsed = urlsplit(origin)
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        entry = urlsplit(trusted.lower())
        if "*" in entry.netloc:  # https://*.example.com, as Django allows
            if entry.scheme == parsed.scheme and is_same_domain(parsed.netloc, entry.netloc.lstrip("*")):
                return True
        elif f"{entry.scheme}://{entry.netloc}" == origin:
            return True
    return False


def origin_allowed(scope) -> bool:
    headers = dict(scope.get("headers") or [])
    origin = headers.get(b"origin", b"").decode("latin-1").strip().lower().rstrip("/")
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    if not origin or not host or origin == "null":
        return False
    if _trusted(origin):
        return True
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    return origin == f"{'https' if _secure(scope, headers) else 'http'}://{host}"


class StrictOriginValidator:
    """ASGI middleware: refuse (HTTP 403) a WebSocket handshake from any other origin."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
