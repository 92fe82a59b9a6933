"""Socket messages that name a model ask the policy (core.policy.models_usable_by through
playground.selectors.model_usable_by): another employee's fine-tune is refused with the
same answer as a model that does not exist. No model worker runs here: a refused
message must never reach one."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import Role
from config.asgi import application
from playground.models import ModelEntry, ModelKind
from tests.factories import make_team, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def setup():
    team = make_team()
    alice, bob = make_user(Role.EMPLOYEE, team=team), make_user(Role.EMPLOYEE, team=team)
    ModelEntry.objects.create(name=f"ft-1-{bob.username}", display_name="Bob's tune", kind=ModelKind.CAUSAL_LM,
                              source="/nowhere", owner=bob)
    client = Client()
    client.force_login(alice)
    return f"sessionid={client.cookies['sessionid'].value}".encode(), f"ft-1-{bob.username}"


async def connected(cookie):
    comm = WebsocketCommunicator(application, "/ws/playground/", headers=[
        (b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000"), (b"cookie", cookie)])
    assert (await comm.connect())[0]
    return comm


async def test_start_with_someone_elses_fine_tune_is_refused():
    cookie, tune = await setup()
    comm = await connected(cookie)
    await comm.send_json_to({"type": "start", "model": tune, "mode": "completion", "prompt": "hi",
                             "params": {"max_new_tokens": 2}, "request_id": "r1"})
    reply = await comm.receive_json_from(timeout=5)
    assert reply["type"] == "error" and reply["code"] == "unknown_model" and reply["request_id"] == "r1"
    await comm.disconnect()


async def test_tokenize_with_someone_elses_fine_tune_is_refused(settings):
    settings.LLM_REQUESTS_CHANNEL = f"llm.requests.{uuid.uuid4().hex[:8]}"  # no worker must ever see it
    cookie, tune = await setup()
    comm = await connected(cookie)
    try:
        await comm.send_json_to({"type": "tokenize", "model": tune, "text": "secret", "request_id": "t1"})
        reply = await comm.receive_json_from(timeout=3)
        assert reply["type"] == "error" and reply["code"] == "unknown_model" and reply["request_id"] == "t1"
    finally:
        await comm.disconnect()
