"""The audit log: each recorded action leaves exactly one entry (who, when, before →
after, from where) through whichever door it came; entries cannot be changed or deleted
but by retention; the admins' log pages filter, page and export it."""

import csv
import datetime as dt
import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from audit.models import AppendOnly, AuditEntry, Source
from audit.services import Origin, audit_record
from audit.tasks import audit_purge_daily
from courseapp.models import Course, Lesson
from dashboards.models import ExportJob
from dashboards.services import export_job_run
from playground.ml.provision import minilm_path
from playground.models import ModelEntry
from tests.courseapp.factories import course_spec, make_course, write_spec
from tests.factories import make_team, make_user
from tests.processes import free_port
from training.models import Quota

pytestmark = pytest.mark.django_db
ADDRESS = "10.1.2.3"


@pytest.fixture
def admin():
    user = make_user(Role.ADMIN, username="root")
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(user)
    return user, client


def entries(action: str):
    return list(AuditEntry.objects.filter(action=action))


def one(action: str) -> AuditEntry:
    found = entries(action)
    assert len(found) == 1, f"{action}: {len(found)} entries: {found}"
    return found[0]


def test_people_and_teams_from_the_command_line():
    call_command("people", "add", "ana", "--role", "manager", "--team", "Research")
    created, team = one("user.created"), one("team.created")
    assert (created.source, created.actor_label, created.target_label) == (Source.COMMAND, "manage.py", "ana")
    assert created.after == {"role": "manager", "team": "Research"} and team.after == {"name": "Research"}
    call_command("people", "add", "ana", "--role", "employee", "--team", "Sales")
    changed = one("user.access_changed")
    assert (changed.before, changed.after) == ({"role": "manager", "team": "Research"},
                                               {"role": "employee", "team": "Sales"})
    call_command("people", "add", "bo", "--role", "manager", "--team", "Sales")
    call_command("people", "team", "Sales", "--manager", "bo")
    assert len(entries("user.created")) == 2 and len(entries("team.created")) == 2
    assert not entries("team.managers_changed")  # bo is a manager of Sales by role already: nothing changed
    call_command("people", "add", "cy", "--role", "manager", "--team", "Research")
    call_command("people", "team", "Sales", "--manager", "cy")
    entry = one("team.managers_changed")
    assert (entry.before, entry.after) == ({"managers": ["bo"]}, {"managers": ["bo", "cy"]})


def test_role_and_team_changes_in_the_django_admin(admin):
    root, client = admin
    mia = make_user(Role.MANAGER, team=make_team("Demo"), username="mia")
    other = make_team("Other")
    form = {"username": "mia", "name": "", "role": Role.EMPLOYEE, "team": other.pk, "is_active": "on",
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "email": "", "first_name": "", "last_name": ""}
    assert client.post(reverse("admin:accounts_user_change", args=[mia.pk]), form).status_code == 302
    entry = one("user.access_changed")
    assert (entry.source, entry.actor, entry.address) == (Source.ADMIN, root, ADDRESS)
    assert (entry.before, entry.after) == ({"role": "manager", "team": "Demo"}, {"role": "employee", "team": "Other"})


def test_teams_and_their_managers_in_the_django_admin(admin):
    root, client = admin
    ana, bo = make_user(Role.MANAGER, username="ana"), make_user(Role.MANAGER, username="bo")
    response = client.post(reverse("admin:accounts_team_add"), {"name": "Drill", "managers": [ana.pk]})
    assert response.status_code == 302
    created = AuditEntry.objects.get(action="team.created", target_label="Drill")
    first = AuditEntry.objects.get(action="team.managers_changed", target_label="Drill")
    assert (created.source, created.actor, first.before, first.after) == (
        Source.ADMIN, root, {"managers": []}, {"managers": ["ana"]})
    team = created.target_id
    response = client.post(reverse("admin:accounts_team_change", args=[team]), {"name": "Drill",
                                                                                 "managers": [bo.pk]})
    assert response.status_code == 302
    changed = AuditEntry.objects.filter(action="team.managers_changed", target_label="Drill").first()
    assert (changed.before, changed.after, changed.address) == ({"managers": ["ana"]}, {"managers": ["bo"]}, ADDRESS)
    client.post(reverse("admin:accounts_team_change", args=[team]), {"name": "Drill", "managers": [bo.pk]})
    assert AuditEntry.objects.filter(action="team.managers_changed", target_label="Drill").count() == 2


def test_quota_changes_on_the_backend_page_and_in_the_admin(admin):
    root, client = admin
    ana = make_user(Role.EMPLOYEE, username="ana")
    url = reverse("training:quota", args=[ana.pk])
    assert client.post(url, {"max_concurrent": "3", "gpu_seconds_per_week": ""}).status_code == 302
    entry = one("quota.changed")
    assert (entry.source, entry.actor, entry.address, entry.target_label) == (Source.WEB, root, ADDRESS, str(ana))
    assert entry.before == {"max_concurrent": None, "gpu_seconds_per_week": None}
    assert entry.after == {"max_concurrent": 3, "gpu_seconds_per_week": None}
    client.post(url, {"max_concurrent": "3", "gpu_seconds_per_week": ""})  # the same: nothing changed
    assert len(entries("quota.changed")) == 1

    quota = Quota.objects.get(user=ana)
    change = reverse("admin:training_quota_change", args=[quota.pk])
    assert client.post(change, {"user": ana.pk, "max_concurrent": "1", "gpu_seconds_per_week": "600"}
                       ).status_code == 302
    admin_entry = AuditEntry.objects.filter(action="quota.changed", source=Source.ADMIN).get()
    assert (admin_entry.before, admin_entry.after) == ({"max_concurrent": 3, "gpu_seconds_per_week": None},
                                                       {"max_concurrent": 1, "gpu_seconds_per_week": 600})
    assert Quota.objects.get(user=ana).max_concurrent == 1
    delete = reverse("admin:training_quota_delete", args=[quota.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Quota.objects.filter(user=ana).exists()
    assert AuditEntry.objects.filter(action="quota.changed", source=Source.ADMIN).count() == 2
    assert AuditEntry.objects.filter(action="quota.changed").first().after == {
        "max_concurrent": None, "gpu_seconds_per_week": None}


def test_publishing_and_unpublishing(admin):
    root, client = admin
    course = make_course(lessons=1)
    imported = one("course.imported")
    assert imported.target_id == str(course.pk) and imported.after["published"] is True
    lesson = Lesson.objects.get(course=course)
    url = reverse("courseapp:author_publish", args=["lesson", lesson.pk])
    assert client.post(url, {"published": "0"}).status_code in (200, 302)
    entry = one("lesson.unpublished")
    course.refresh_from_db()
    assert (entry.actor, entry.address, entry.before) == (root, ADDRESS, {"published": True})
    assert entry.after == {"published": False, "course_id": course.pk,
                           "course_version": course.updated_at.isoformat()}
    client.post(url, {"published": "0"})  # already unpublished: no second entry
    client.post(reverse("courseapp:author_publish", args=["course", course.pk]), {"published": "0"})
    assert len(entries("lesson.unpublished")) == 1 and one("course.unpublished").target_type == "courseapp.course"
    client.post(url, {"published": "1"})
    assert one("lesson.published").before == {"published": False}


def test_a_course_import_on_the_command_line(tmp_path):
    spec = course_spec(slug="imported", lessons=1)
    write_spec(spec, tmp_path / "imported")
    call_command("course_import", str(tmp_path / "imported"))
    entry = one("course.imported")
    assert (entry.source, entry.target_id) == (Source.COMMAND, str(Course.objects.get(slug="imported").pk))


def test_models_and_endpoints_registered_changed_and_removed(admin):
    root, client = admin
    port = free_port()  # nothing listens: the probe fails at once
    form = {"form": "endpoint", "name": "big", "display_name": "Big", "base_url": f"http://127.0.0.1:{port}/v1",
            "served_model": "qwen-7b", "api_key_env": "VLLM_API_KEY", "api_key_file": "", "timeout_seconds": "2",
            "max_tokens": "512", "max_concurrency": "8", "supports_chat": "on", "tokenize_path": "",
            "enabled": "on"}
    assert client.post(reverse("curation"), form).status_code == 302
    registered = one("endpoint.registered")
    assert (registered.actor, registered.address, registered.target_label) == (root, ADDRESS, "Big")
    assert registered.after["served_model"] == "qwen-7b" and registered.after["api_key_env"] == "VLLM_API_KEY"
    client.post(reverse("curation"), form)  # the same again: nothing changed
    client.post(reverse("curation"), form | {"served_model": "qwen-14b", "max_tokens": "1024"})
    changed = one("endpoint.changed")
    assert (changed.before, changed.after) == ({"served_model": "qwen-7b", "max_tokens": 512},
                                               {"served_model": "qwen-14b", "max_tokens": 1024})

    local = {"form": "path", "name": "minilm-copy", "display_name": "MiniLM copy", "kind": "encoder",
             "source": str(minilm_path()), "enabled": "on", "notes": ""}
    assert client.post(reverse("curation"), local).status_code == 302
    assert one("model.registered").after["source"] == str(minilm_path())

    entry = ModelEntry.objects.get(name="big")
    delete = reverse("admin:playground_modelentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    removed = one("endpoint.removed")
    assert (removed.source, removed.before["served_model"], removed.target_id) == (Source.ADMIN, "qwen-14b",
                                                                                  str(entry.pk))
    assert not ModelEntry.objects.filter(name="big").exists()


def test_an_endpoint_changed_in_the_django_admin(admin):
    from playground.services import model_register_endpoint

    _root, client = admin
    entry = model_register_endpoint(name="ep", display_name="Ep", base_url="http://gpu:8000/v1", served_model="m")
    endpoint = entry.endpoint
    form = {"name": "ep", "display_name": "Ep", "kind": "endpoint", "source": "http://gpu:8000/v1", "enabled": "on",
            "notes": "", "adapter": "", "base": "", "owner": "", "created_by": "",
            "endpoint-TOTAL_FORMS": "1", "endpoint-INITIAL_FORMS": "1", "endpoint-MIN_NUM_FORMS": "0",
            "endpoint-MAX_NUM_FORMS": "1", "endpoint-0-id": endpoint.pk, "endpoint-0-entry": entry.pk,
            "endpoint-0-base_url": "http://gpu:8000/v1", "endpoint-0-served_model": "m2",
            "endpoint-0-api_key_env": "", "endpoint-0-api_key_file": "", "endpoint-0-timeout_seconds": "30",
            "endpoint-0-max_tokens": "512", "endpoint-0-max_concurrency": "8", "endpoint-0-tokenize_path": ""}
    response = client.post(reverse("admin:playground_modelentry_change", args=[entry.pk]), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    changed = one("endpoint.changed")
    assert changed.source == Source.ADMIN and changed.before["served_model"] == "m"
    assert changed.after["served_model"] == "m2"
    assert changed.before["supports_streaming"] is True and changed.after["supports_streaming"] is False


def test_exports_and_their_downloads(settings):
    team = make_team("A")
    manager = make_user(Role.MANAGER, team=team)
    make_user(Role.EMPLOYEE, team=team)
    make_course(lessons=1)
    client = Client(REMOTE_ADDR=ADDRESS)
    client.force_login(manager)
    response = client.post(reverse("dashboards:export"), {"kind": "matrix", "team": team.pk})
    assert response.status_code == 200 and b"".join(response.streaming_content)
    inline = one("export.downloaded")
    assert (inline.actor, inline.address, inline.after["kind"], inline.after["job"]) == (
        manager, ADDRESS, "matrix", None)

    settings.EXPORT_INLINE_MAX_ROWS = -1  # a background job
    response = client.post(reverse("dashboards:export"), {"kind": "attempts", "team": team.pk})
    job = ExportJob.objects.get()
    requested = one("export.requested")
    assert (requested.target_id, requested.after["kind"], requested.actor) == (str(job.pk), "attempts", manager)
    assert len(entries("export.downloaded")) == 1  # asked for, not downloaded yet
    export_job_run(job_id=job.pk)
    response = client.get(reverse("dashboards:export_download", args=[job.pk]))
    assert response.status_code == 200
    b"".join(response.streaming_content)
    download = AuditEntry.objects.filter(action="export.downloaded", target_id=str(job.pk)).get()
    assert download.after["job"] == job.pk and len(entries("export.downloaded")) == 2


def test_entries_are_append_only(admin):
    _root, client = admin
    entry = audit_record(action="thing.done", origin=Origin(label="test"), after={"x": 1})
    entry.after = {"x": 2}
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    assert AuditEntry.objects.get(pk=entry.pk).after == {"x": 1}
    # The Django admin shows it read-only: no add, change or delete.
    assert client.get(reverse("admin:audit_auditentry_changelist")).status_code == 200
    page = client.get(reverse("admin:audit_auditentry_change", args=[entry.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert client.post(reverse("admin:audit_auditentry_change", args=[entry.pk]), {"action": "x"}).status_code == 403
    assert client.post(reverse("admin:audit_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk, action="thing.done").exists()


def test_retention_runs_daily_and_drops_only_old_entries(settings):
    assert settings.CELERY_BEAT_SCHEDULE["audit-purge-expired"]["task"] == "audit.tasks.audit_purge_daily"
    settings.AUDIT_RETENTION_DAYS = 30
    old, recent = (audit_record(action=f"thing.{n}", origin=Origin(label="t")) for n in ("old", "recent"))
    AuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - dt.timedelta(days=31))
    AuditEntry.objects.filter(pk=recent.pk).update(at=timezone.now() - dt.timedelta(days=29))
    assert audit_purge_daily.apply().get() == 1
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["thing.recent"]
    settings.AUDIT_RETENTION_DAYS = 0  # keep everything
    AuditEntry.objects.filter(pk=recent.pk).update(at=timezone.now() - dt.timedelta(days=4000))
    assert audit_purge_daily.apply().get() == 0 and AuditEntry.objects.count() == 1


@pytest.fixture
def log():
    """Entries of several kinds, days and sources, and an actor whose name a spreadsheet would run."""
    ana = make_user(Role.ADMIN, username="ana")
    evil = User.objects.create(username="=cmd|' /C calc'!A0", role=Role.EMPLOYEE)
    now = timezone.now()
    rows = [("quota.changed", Origin(Source.WEB, ana, "10.0.0.1"), 1),
            ("quota.changed", Origin(Source.ADMIN, ana, "10.0.0.2"), 10),
            ("user.access_changed", Origin(Source.IDP, None, None, "", "okta"), 2),
            ("export.downloaded", Origin(Source.WEB, evil, "10.0.0.3"), 3)]
    for action, origin, days in rows:
        entry = audit_record(action=action, origin=origin, target=evil, after={"n": days})
        AuditEntry.objects.filter(pk=entry.pk).update(at=now - dt.timedelta(days=days))
    for n in range(60):
        audit_record(action="thing.filler", origin=Origin(label="filler"), after={"n": n})
    return {"ana": ana, "evil": evil}


def test_the_log_page_filters_and_pages(admin, log):
    _root, client = admin
    url = reverse("audit:log")

    def shown(**query):
        response = client.get(url, query)
        assert response.status_code == 200
        return [e.action for e in response.context["page"]], response.context["page"].paginator.count

    assert shown()[1] == AuditEntry.objects.count()
    assert shown(action="quota")[1] == 2 and shown(action="quota.changed")[1] == 2
    assert shown(action="quota", source="admin") == (["quota.changed"], 1)
    assert shown(actor="okta") == (["user.access_changed"], 1)
    assert shown(target="cmd")[1] == 4
    assert shown(target="accounts.user")[1] == AuditEntry.objects.filter(target_type="accounts.user").count() > 4
    today = timezone.localdate()
    window = {"start": (today - dt.timedelta(days=5)).isoformat(), "end": (today - dt.timedelta(days=2)).isoformat()}
    assert shown(**window) == (["user.access_changed", "export.downloaded"], 2)
    # 50 a page, newest first; page 2 keeps the filters.
    first = client.get(url)
    assert len(first.context["page"]) == 50 and "Page 1 of 2" in first.content.decode()
    second = client.get(url, {"action": "thing", "page": "2"})
    assert len(second.context["page"]) == 10 and "action=thing&amp;page=1" in second.content.decode()
    bad = client.get(url, {"start": "2026-02-02", "end": "2026-01-01"})
    assert "The start date is after the end date." in bad.content.decode()


def test_the_log_page_in_chinese(admin, log):
    _root, client = admin
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = client.get(reverse("audit:log")).content.decode()
    assert "审计日志" in page and "导出为 CSV" in page and "操作" in page


def test_the_log_exports_as_csv_with_its_filters(admin, log):
    root, client = admin
    response = client.get(reverse("audit:log_csv"), {"action": "export"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["at", "action", "source", "actor"]
    assert [r[1] for r in rows[1:]] == ["export.downloaded"]
    assert rows[1][3] == "'=cmd|' /C calc'!A0" and rows[1][8].startswith("'=cmd")  # formula-safe cells
    assert rows[1][4] == "10.0.0.3" and rows[1][10] == '{"n": 3}'
    taken = one("audit.exported")  # taking the log out is itself on the log
    assert (taken.actor, taken.after) == (root, {"action": "export"})
