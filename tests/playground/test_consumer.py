"""The playground WebSocket, through the full ASGI stack, against a real model worker."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import Role
from config.asgi import application
from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@sync_to_async
def session_cookie(role=Role.EMPLOYEE) -> bytes:
    client = Client()
    client.force_login(make_user(role))
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def communicator(cookie: bytes | None, origin: bytes = b"http://localhost:8000"):
    headers = [(b"origin", origin), (b"host", b"localhost:8000")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/playground/", headers=headers)


async def test_anonymous_socket_is_refused():
    comm = communicator(None)
    connected, _ = await comm.connect()
    assert not connected


async def test_bad_origin_is_refused():
    comm = communicator(await session_cookie(), origin=b"https://evil.example.com")
    connected, _ = await comm.connect()
    assert not connected


async def test_tokenize_goes_through_the_model_worker(model_worker):
    comm = communicator(await session_cookie())
    connected, _ = await comm.connect()
    assert connected
    await comm.send_json_to({"type": "tokenize", "model": "smollm2-135m-instruct", "text": "Hello world"})
    reply = await comm.receive_json_from(timeout=10)
    assert reply["type"] == "tokens"
    loaded = model_worker.models["smollm2-135m-instruct"]
    expected = loaded.tokenizer("Hello world", add_special_tokens=False)["input_ids"]
    assert [t["id"] for t in reply["tokens"]] == expected
    assert "".join(t["text"] for t in reply["tokens"]) == "Hello world"
    await comm.disconnect()


async def test_errors_come_back_as_error_events_and_the_worker_keeps_serving(model_worker):
    comm = communicator(await session_cookie())
    await comm.connect()
    await comm.send_json_to({"type": "tokenize", "model": "no-such-model", "text": "hi"})
    reply = await comm.receive_json_from(timeout=10)
    assert reply["type"] == "error" and reply["code"] == "unknown_model"
    await comm.send_json_to({"type": "launch-rockets"})
    reply = await comm.receive_json_from(timeout=10)
    assert reply == {"type": "error", "code": "bad_request", "message": "Unknown message type 'launch-rockets'.", "request_id": None}
    await comm.send_json_to({"type": "tokenize", "model": "minilm-l6-v2", "text": "still here"})
    reply = await comm.receive_json_from(timeout=10)
    assert reply["type"] == "tokens" and len(reply["tokens"]) == 2
    await comm.disconnect()


async def test_worker_keeps_serving_after_idling_past_the_blocking_pop_timeout(model_worker):
    # channels_redis blocks 5 s per pop; redis-py 8's default socket timeout is also
    # 5 s, which once killed an idle worker. Idle longer than that, then ask.
    comm = communicator(await session_cookie())
    await comm.connect()
    await asyncio.sleep(6.5)
    assert model_worker.state == "ready"
    await comm.send_json_to({"type": "tokenize", "model": "smollm2-135m-instruct", "text": "awake"})
    reply = await comm.receive_json_from(timeout=10)
    assert reply["type"] == "tokens"
    await comm.disconnect()
