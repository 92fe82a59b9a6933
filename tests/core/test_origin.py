"""The WebSocket handshake accepts only our own origin: scheme, host and port, or an
entry of CSRF_TRUSTED_ORIGINS (core/origin.py), through the full ASGI stack."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import Role
from config.asgi import application
from core.origin import origin_allowed
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def cookie() -> bytes:
    client = Client()
    client.force_login(make_user(Role.EMPLOYEE))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def handshake(origin: bytes, host: bytes = b"localhost:8000") -> bool:
    comm = WebsocketCommunicator(application, "/ws/playground/",
                                 headers=[(b"origin", origin), (b"host", host), (b"cookie", await cookie())])
    connected, _ = await comm.connect()
    await comm.disconnect()
    return connected


async def test_our_origin_is_accepted_and_another_port_is_refused():
    assert await handshake(b"http://localhost:8000")
    assert not await handshake(b"http://localhost:9999")  # the same host on another port
    assert not await handshake(b"https://localhost:8000")  # another scheme
    assert not await handshake(b"http://localhost")  # no port is port 80, not ours
    assert not await handshake(b"http://evil.example.com:8000", host=b"evil.example.com:8000")  # not an allowed host


def scope(origin: str, host: str, scheme: str = "ws", **headers) -> dict:
    pairs = [(b"origin", origin.encode()), (b"host", host.encode())]
    pairs += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return {"type": "websocket", "scheme": scheme, "headers": pairs}


def test_tls_and_trusted_origins(settings):
    settings.ALLOWED_HOSTS = ["academy.example.com"]
    assert origin_allowed(scope("https://academy.example.com", "academy.example.com", scheme="wss"))
    assert not origin_allowed(scope("http://academy.example.com", "academy.example.com", scheme="wss"))
    # Behind the TLS proxy, X-Forwarded-Proto says https (SECURE_PROXY_SSL_HEADER)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert origin_allowed(scope("https://academy.example.com", "academy.example.com", x_forwarded_proto="https"))
    assert not origin_allowed(scope("https://academy.example.com:8443", "academy.example.com",
                                    x_forwarded_proto="https"))
    settings.CSRF_TRUSTED_ORIGINS = ["https://academy.example.com:8443", "https://*.corp.example.com"]
    assert origin_allowed(scope("https://academy.example.com:8443", "academy.example.com"))
    assert origin_allowed(scope("https://learn.corp.example.com", "academy.example.com"))
    assert not origin_allowed(scope("http://learn.corp.example.com", "academy.example.com"))
    assert not origin_allowed(scope("https://academy.example.com:9999", "academy.example.com"))
    assert not origin_allowed(scope("null", "academy.example.com"))
