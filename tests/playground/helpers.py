"""Talking to the playground socket in tests: a logged-in cookie, a connection through
the full ASGI stack (origin check and session auth included), and the events that come back."""

import pytest
import torch
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client

from accounts.models import Role
from config.asgi import application
from playground.ml.prompts import build_prompt
from tests.factories import make_user

MODEL = "smollm2-135m-instruct"
PROMPT = "The three primary colours are"


@sync_to_async
def login_cookie(user=None) -> tuple[bytes, object]:
    user = user or make_user(Role.EMPLOYEE)
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode(), user


def communicator(cookie: bytes | None, origin: bytes = b"http://localhost:8000"):
    """A socket not yet connected; no cookie means anonymous."""
    headers = [(b"origin", origin), (b"host", b"localhost:8000")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/playground/", headers=headers)


async def connect(cookie):
    comm = communicator(cookie)
    connected, _ = await comm.connect()
    assert connected
    return comm


async def start(comm, prompt=PROMPT, **params):
    params = {"temperature": 0, "max_new_tokens": 12, **params}
    await comm.send_json_to({"type": "start", "model": MODEL, "mode": "completion", "prompt": prompt, "params": params})


async def collect(comm, timeout=60):
    """Read events until `done` or `error`; returns (started, tokens, final)."""
    started, tokens = None, []
    while True:
        event = await comm.receive_json_from(timeout=timeout)
        if event["type"] == "started":
            started = event
        elif event["type"] == "token":
            tokens.append(event)
        else:
            return started, tokens, event


async def read_tokens(comm, n: int, timeout=60) -> None:
    """Read events until `n` tokens have streamed (the generation is then mid-stream)."""
    seen = 0
    while seen < n:
        event = await comm.receive_json_from(timeout=timeout)
        assert event["type"] in ("started", "token"), event
        seen += event["type"] == "token"


def greedy_reference(loaded, prompt, n):
    ids, _ = build_prompt(loaded.tokenizer, prompt, "completion", max_tokens=1024)
    with torch.no_grad():
        out = loaded.model.generate(torch.tensor([ids]), max_new_tokens=n, do_sample=False,
                                    repetition_penalty=1.0, eos_token_id=None)
    return ids, out[0, len(ids):].tolist()


@pytest.fixture
async def close_orm_thread():
    """Close the connection of the thread the test's own async ORM calls ran in (left
    open, it keeps PostgreSQL from dropping the test database at the end)."""
    yield
    await sync_to_async(lambda: connection.close())()
