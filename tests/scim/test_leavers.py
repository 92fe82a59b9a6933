"""Deactivation and erasure as services, and the commands an admin uses."""

import io
import re

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from accounts.models import Role, User
from accounts.services import user_deactivate, user_erase, user_reactivate
from audit.models import AuditEntry
from audit.services import COMMAND
from courseapp.models import LessonProgress
from courseapp.services import lesson_complete
from playground.models import PlaygroundRun, RunStatus
from scim.models import ScimToken
from scim.tokens import token_authenticate
from tests.courseapp.factories import make_course
from tests.factories import make_team, make_user
from training import services as training
from training.models import FineTuneJob, JobStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    """The jobs here must stay queued: a Celery worker that another test module left
    running on the same broker would otherwise take them (and run, or fail, them)."""
    monkeypatch.setattr(training, "job_enqueue", lambda **kw: None)


@pytest.mark.parametrize("engine", ["django.contrib.sessions.backends.db",
                                    "django.contrib.sessions.backends.cached_db"])
def test_deactivation_ends_every_session_and_cancels_fine_tunes(settings, engine):
    settings.SESSION_ENGINE = engine
    user, other = make_user(Role.EMPLOYEE), make_user(Role.EMPLOYEE)
    browsers = [Client(), Client(), Client()]
    for browser, who in zip(browsers, (user, user, other), strict=True):
        browser.force_login(who)
        assert browser.get("/learn/").status_code == 200
    job = training.job_submit(user=user, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq")
    unclaimed = PlaygroundRun.objects.create(user=user, model_name="m", mode="completion", prompt="p")
    assert user_deactivate(user=user, origin=COMMAND) is True
    assert user_deactivate(user=user, origin=COMMAND) is False  # once
    assert [b.get("/learn/").status_code for b in browsers] == [302, 302, 200]
    assert Session.objects.count() == 1
    assert FineTuneJob.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert PlaygroundRun.objects.get(pk=unclaimed.pk).status == RunStatus.STOPPED
    assert AuditEntry.objects.filter(action="user.deactivated", target_id=str(user.pk)).count() == 1
    assert user_reactivate(user=user, origin=COMMAND) is True
    assert AuditEntry.objects.filter(action="user.reactivated", target_id=str(user.pk)).count() == 1


def test_erasure_is_deliberate_anonymises_and_keeps_what_reports_count():
    team = make_team("Drill")
    user = make_user(Role.MANAGER, team=team, username="gone")
    course = make_course(lessons=1)
    lesson_complete(user=user, lesson=course.modules.first().lessons.first())
    PlaygroundRun.objects.create(user=user, model_name="m", mode="completion", prompt="my home address is ...",
                                 status=RunStatus.DONE)
    with pytest.raises(CommandError, match="--yes"):
        call_command("people", "erase", "gone")
    assert User.objects.filter(username="gone").exists()
    call_command("people", "erase", "gone", "--yes", stdout=io.StringIO())
    erased = User.objects.get(pk=user.pk)
    assert (erased.username, erased.name, erased.email, erased.is_active) == (f"erased-{user.pk}", "", "", False)
    assert not erased.has_usable_password() and not erased.managed_teams.exists()
    assert erased.team == team  # the team's figures still add up
    assert LessonProgress.objects.filter(user=erased, completed_at__isnull=False).count() == 1
    assert not PlaygroundRun.objects.filter(user=erased).exists()
    entry = AuditEntry.objects.get(action="user.erased")
    assert (entry.target_id, entry.source, entry.before, entry.after) == (str(user.pk), "command", None, None)
    assert user_erase(user=erased, origin=COMMAND).username == f"erased-{user.pk}"


def test_scim_token_command_prints_the_token_once_and_keeps_only_its_hash():
    out = io.StringIO()
    call_command("scim_token", "create", "okta-prod", stdout=out)
    raw = re.search(r"^(scim_\S+)$", out.getvalue(), re.M).group(1)
    stored = ScimToken.objects.get(name="okta-prod")
    assert raw not in stored.digest and len(stored.digest) == 64
    assert token_authenticate(header=f"Bearer {raw}") == stored
    out = io.StringIO()
    call_command("scim_token", "rotate", "okta-prod", stdout=out)
    new = re.search(r"^(scim_\S+)$", out.getvalue(), re.M).group(1)
    assert token_authenticate(header=f"Bearer {raw}") is None
    assert token_authenticate(header=f"Bearer {new}") == stored
    call_command("scim_token", "revoke", "okta-prod", stdout=io.StringIO())
    assert token_authenticate(header=f"Bearer {new}") is None
    assert list(AuditEntry.objects.filter(target_type="scim.scimtoken").order_by("id").values_list(
        "action", flat=True)) == ["scim_token.created", "scim_token.rotated", "scim_token.revoked"]
    with pytest.raises(CommandError):
        call_command("scim_token", "rotate", "no-such")


def test_a_channel_layer_that_is_down_does_not_keep_fine_tunes_running(monkeypatch):
    user = make_user(Role.EMPLOYEE)
    job = training.job_submit(user=user, kind="causal_lm", preset="cpu-quick", builtin_dataset="company-faq")

    def down(**_):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("playground.services.runs_stop_for_user", down)
    assert user_deactivate(user=user, origin=COMMAND) is True
    assert FineTuneJob.objects.get(pk=job.pk).status == JobStatus.CANCELLED
    assert not User.objects.get(pk=user.pk).is_active
