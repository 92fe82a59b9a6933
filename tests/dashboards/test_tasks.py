import datetime as dt
import time

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import Role
from courseapp.models import Attempt, Lesson
from dashboards.models import ExportJob, ExportStatus, ReminderKind, ReminderLog
from dashboards.services import reminders_send
from tests.dashboards.factories import assign, attempt, finish, make_course, make_user, progress, team_with

NOW = dt.datetime(2030, 6, 15, 7, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.mark.django_db
def test_reminders_send_exactly_the_expected_emails_once_a_day(course):
    team, manager, (a, b) = team_with(2)
    _other_team, other_manager, (stranger,) = team_with(1)
    later, overdue_course = make_course(), make_course()
    assign(manager, course, TODAY + dt.timedelta(days=2), team=team)  # due soon for a, b, manager
    assign(manager, later, TODAY + dt.timedelta(days=10), user=a)  # too far ahead
    assign(manager, overdue_course, TODAY - dt.timedelta(days=4), team=team)  # overdue for a, b, manager
    finish(b, course)

    sent = reminders_send(now=NOW)
    assert sent == {"due_soon": 2, "overdue_digest": 1}
    due_soon = {m.to[0]: m for m in mail.outbox if "due soon" in m.subject}
    assert set(due_soon) == {a.email, manager.email}
    assert course.title_text in due_soon[a.email].body and later.title_text not in due_soon[a.email].body
    assert "in 2 days" in due_soon[a.email].body
    digest = [m for m in mail.outbox if "Overdue" in m.subject]
    assert [m.to for m in digest] == [[manager.email]]
    body = digest[0].body
    assert a.display_name in body and b.display_name in body and "4 days late" in body
    assert stranger.display_name not in body and other_manager.email not in {m.to[0] for m in mail.outbox}

    # Never twice on the same day, even later that day.
    assert reminders_send(now=NOW + dt.timedelta(hours=8)) == {"due_soon": 0, "overdue_digest": 0}
    assert len(mail.outbox) == 3
    assert ReminderLog.objects.filter(kind=ReminderKind.DUE_SOON, date=TODAY).count() == 2
    # The next day they come again.
    assert reminders_send(now=NOW + dt.timedelta(days=1)) == {"due_soon": 2, "overdue_digest": 1}


@pytest.mark.django_db
def test_reminders_skip_finished_inactive_and_past_due(course):
    team, manager, (a,) = team_with(1)
    assign(manager, course, TODAY, user=a)
    a.is_active = False
    a.save()
    assert reminders_send(now=NOW)["due_soon"] == 0
    a.is_active = True
    a.save()
    finish(a, course)
    assert reminders_send(now=NOW + dt.timedelta(days=1))["due_soon"] == 0
    assert mail.outbox == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_large_export_runs_as_a_job_on_a_real_worker(client, celery_worker, settings):
    """Over EXPORT_INLINE_MAX_ROWS the export becomes a Celery job; the page polls its
    status and offers a download, whose numbers match the database."""
    settings.EXPORT_INLINE_MAX_ROWS = 0
    course = make_course(lessons=2)
    team, manager, people = team_with(3)
    lessons = list(Lesson.objects.filter(course=course))
    for i, person in enumerate(people):
        progress(person, lessons[0], seconds=60 * (i + 1))
        attempt(person, lessons[0].quiz, score=50 + 10 * i)
    client.force_login(manager)
    response = client.post(reverse("dashboards:export"), {"kind": "attempts", "team": team.pk})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert 'hx-trigger="every 2s"' in client.get(job.get_absolute_url()).content.decode()

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            break
        time.sleep(0.3)
    assert job.status == ExportStatus.DONE, job.error
    status = client.get(reverse("dashboards:export_status", args=[job.pk])).content.decode()
    assert "every 2s" not in status and reverse("dashboards:export_download", args=[job.pk]) in status
    download = client.get(reverse("dashboards:export_download", args=[job.pk]))
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(b"".join(download.streaming_content).decode())))
    expected = {(a.user.username, f"{a.score:g}") for a in Attempt.objects.select_related("user")}
    assert {(r["username"], r["score"]) for r in rows} == expected and job.row_count == len(expected)
    client.force_login(make_user(Role.MANAGER, team=team))  # another manager, even of the same team
    assert client.get(reverse("dashboards:export_download", args=[job.pk])).status_code == 404
