"""The playground WebSocket, through the full ASGI stack, against a real model worker."""

import asyncio

import pytest

from tests.playground.helpers import communicator, connect, login_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


async def test_anonymous_socket_is_refused():
    comm = communicator(None)
    connected, _ = await comm.connect()
    assert not connected


async def test_bad_origin_is_refused():
    comm = communicator((await login_cookie())[0], origin=b"https://evil.example.com")
    connected, _ = await comm.connect()
    assert not connected


async def test_tokenize_goes_through_the_model_worker(model_worker):
    comm = await connect((await login_cookie())[0])
    await comm.send_json_to({"type": "tokenize", "model": "smollm2-135m-instruct", "text": "Hello world"})
    reply = await comm.receive_json_from(timeout=10)
    assert reply["type"] == "tokens"
    loaded = model_worker.models["smollm2-135m-instruct"]
    expected = loaded.tokenizer("Hello world", add_special_tokens=False)["input_ids"]
    assert [t["id"] for t in reply["tokens"]] == expected
    assert "".join(t["text"] for t in reply["tokens"]) == "Hello world"
    await comm.disconnect()


async def test_errors_come_back_as_error_events_and_the_worker_keeps_serving(model_worker):
    comm = await connect((await login_cookie())[0])
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
    comm = await connect((await login_cookie())[0])
    await asyncio.sleep(6.5)
    assert model_worker.state == "ready"
    await comm.send_json_to({"type": "tokenize", "model": "smollm2-135m-instruct", "text": "awake"})
    reply = await comm.receive_json_from(timeout=10)
    assert reply["type"] == "tokens"
    await comm.disconnect()
