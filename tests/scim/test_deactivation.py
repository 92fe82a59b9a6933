"""A leaver, deactivated over SCIM while streaming: their socket hears why and closes,
their run ends, their queued fine-tune is cancelled, their session is refused, and
what they learned stays."""

import asyncio
import json
import time

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient, Client

from accounts.models import Role, User
from courseapp.models import Lesson
from courseapp.services import lesson_complete
from dashboards.literacy import literacy_people, literacy_records
from dashboards.selectors import lesson_matrix
from playground.models import PlaygroundRun, RunStatus
from scim.tokens import token_create
from tests.courseapp.factories import make_course
from tests.factories import make_user
from tests.playground.helpers import communicator, login_cookie, read_tokens, start
from tests.scim.conftest import SCIM, user_body
from training import services as training
from training.models import FineTuneJob, JobStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """The leaver's fine-tune must still be queued when they leave: the session's Celery
    worker, if an earlier test started it, would otherwise already be running it."""
    monkeypatch.setattr(training, "job_enqueue", lambda **kw: None)


@sync_to_async
def setup_leaver(scim_headers):
    client = Client()
    r = client.post("/scim/v2/Users", user_body("leaver", department="Drill"), content_type=SCIM, **scim_headers)
    assert r.status_code == 201, r.content
    user = User.objects.get(username="leaver")
    course = make_course(lessons=1)
    lesson = Lesson.objects.get(course=course)
    lesson_complete(user=user, lesson=lesson)
    job = training.job_submit(user=user, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq")
    return user, r.json()["id"], course, job


@pytest.mark.usefixtures("close_orm_thread")
async def test_deactivated_mid_stream(model_worker, capsys):
    _token, raw = await sync_to_async(token_create)(name="entra")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    user, scim_id, course, job = await setup_leaver(headers)
    cookie, _ = await login_cookie(user)
    comm = communicator(cookie)
    assert (await comm.connect())[0]
    await start(comm, max_new_tokens=400, temperature=0.7, seed=3, prompt="Once upon a time, in a city of robots,")
    await read_tokens(comm, 3)

    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}  # Entra ID's shape
    deactivated_at = time.monotonic()
    r = await AsyncClient().patch(f"/scim/v2/Users/{scim_id}", body, content_type=SCIM,
                                  headers={"Authorization": f"Bearer {raw}"})
    assert r.status_code == 200 and r.json()["active"] is False

    error_seen = False
    # The socket: tokens may still be in flight, then the error, then the close; within 10 s.
    while True:
        output = await comm.receive_output(timeout=10 - (time.monotonic() - deactivated_at))
        if output["type"] == "websocket.close":
            break
        event = json.loads(output["text"])
        if event["type"] == "error":
            assert event["code"] == "account_deactivated", event
            error_seen = True
    closed_after = time.monotonic() - deactivated_at
    assert error_seen and closed_after < 10
    with capsys.disabled():
        print(f"\ndeactivation over SCIM → socket closed in {closed_after:.2f} s")

    @sync_to_async
    def run_status():
        return PlaygroundRun.objects.get(user=user).status

    deadline = time.monotonic() + 15
    while await run_status() == RunStatus.RUNNING and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert await run_status() in (RunStatus.STOPPED, RunStatus.ERROR)

    @sync_to_async
    def afterwards():
        assert FineTuneJob.objects.get(pk=job.pk).status == JobStatus.CANCELLED
        http = Client()
        http.cookies.load(cookie.decode())
        page = http.get("/learn/")
        assert page.status_code == 302 and "/accounts/login/" in page.headers["Location"]
        # Nothing of theirs is gone: the completion is still in the team's lesson matrix.
        _lessons, cells = lesson_matrix(people=[User.objects.get(pk=user.pk)], course=course)
        assert [c.status for c in cells[user.pk]] == ["done"]
        leaver = User.objects.get(pk=user.pk)
        assert (leaver.is_active, leaver.team.name, leaver.role) == (False, "Drill", Role.EMPLOYEE)
        # ...and in the team's AI-literacy record, the evidence a company files.
        people, team = literacy_people(viewer=make_user(Role.ADMIN), team_id=leaver.team_id)
        assert team.name == "Drill" and leaver in people
        record = next(r for r in literacy_records(people=people) if r.person == leaver)
        assert record.lessons_completed == 1

    await afterwards()
