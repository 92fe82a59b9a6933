"""Role and team changes take effect on the next request: the `people` command and the
admin both go through accounts.services, which keeps Team.managers in step."""

import uuid

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import Role, Team, User
from playground.models import PlaygroundRun, RunStatus
from tests.factories import make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_waiting_for_a_model_worker(monkeypatch, settings):
    # The attention endpoints ask a model worker, which these tests don't run: an allowed
    # request answers 503 (no worker) at once instead of after 30 s, on a channel no
    # later worker reads.
    monkeypatch.setattr("playground.attention_views.WORKER_TIMEOUT", 0.2)
    settings.LLM_REQUESTS_CHANNEL = f"llm.requests.{uuid.uuid4().hex[:8]}"


@pytest.fixture
def demo():
    """Team Demo with its manager `mia` and an employee's saved run."""
    team = make_team("Demo")
    call_command("people", "add", "mia", "--role", "manager", "--team", "Demo")
    worker = make_user(Role.EMPLOYEE, team=team)
    run = PlaygroundRun.objects.create(user=worker, model_name="smollm2-135m-instruct", mode="completion",
                                       prompt="secret plan", status=RunStatus.DONE, tokens=[{"id": 1}])
    return {"team": team, "mia": User.objects.get(username="mia"), "worker": worker, "run": run}


def urls(d):
    run = d["run"].public_id
    return [reverse("playground:run", args=[run]),
            reverse("playground:attention_data") + f"?run={run}",
            reverse("playground:bertviz", args=["head"]) + f"?run={run}",
            reverse("playground:attention") + f"?run={run}",
            reverse("dashboards:person", args=[d["worker"].pk]),
            reverse("dashboards:team", args=[d["team"].pk])]


def statuses(user, d):
    client = Client()
    client.force_login(user)
    return [client.get(url).status_code for url in urls(d)]


def test_the_manager_sees_the_team_before_any_change(demo):
    assert statuses(demo["mia"], demo) == [200, 503, 503, 200, 200, 200]  # 503: no model worker here


@pytest.mark.parametrize("change", [
    ["--role", "employee", "--team", "Other"],  # demoted and moved, as in the report
    ["--role", "employee", "--team", "Demo"],  # demoted, same team
])
def test_a_demoted_manager_loses_access_on_the_next_request(demo, change):
    call_command("people", "add", "mia", *change)
    mia = User.objects.get(username="mia")
    assert not mia.managed_teams.exists()
    assert statuses(mia, demo) == [403, 403, 403, 403, 403, 403]  # the team pages are for managers


def test_a_moved_manager_manages_the_new_team_only(demo):
    call_command("people", "add", "mia", "--role", "manager", "--team", "Other")
    mia = User.objects.get(username="mia")
    assert list(mia.managed_teams.values_list("name", flat=True)) == ["Other"]
    assert statuses(mia, demo) == [403, 403, 403, 403, 404, 404]  # a team and person not hers don't exist


def test_the_admin_change_form_goes_through_the_same_service(demo):
    admin = make_user(Role.ADMIN)
    client = Client()
    client.force_login(admin)
    mia = demo["mia"]
    other = make_team("Other")
    form = {"username": "mia", "name": "", "role": Role.MANAGER, "team": other.pk, "is_active": "on",
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "email": "", "first_name": "", "last_name": ""}
    response = client.post(reverse("admin:accounts_user_change", args=[mia.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert list(mia.managed_teams.values_list("name", flat=True)) == ["Other"]
    response = client.post(reverse("admin:accounts_user_change", args=[mia.pk]), form | {"role": Role.EMPLOYEE})
    assert response.status_code == 302
    assert not Team.objects.filter(managers=mia).exists()
    assert statuses(User.objects.get(pk=mia.pk), demo)[0] == 403


def test_an_admin_demoted_in_the_admin_stops_being_one(demo):
    client = Client()
    client.force_login(make_user(Role.ADMIN))
    ex_admin = make_user(Role.ADMIN)
    form = {"username": ex_admin.username, "name": "", "role": Role.EMPLOYEE, "team": "", "is_active": "on",
            "is_staff": "on", "is_superuser": "on",  # the boxes stay ticked; the role decides
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", "email": "", "first_name": "", "last_name": ""}
    assert client.post(reverse("admin:accounts_user_change", args=[ex_admin.pk]), form).status_code == 302
    ex_admin.refresh_from_db()
    assert ex_admin.effective_role == Role.EMPLOYEE and not ex_admin.is_staff
    assert statuses(ex_admin, demo)[0] == 403


def test_the_team_admin_offers_only_managers(demo):
    client = Client()
    client.force_login(make_user(Role.ADMIN))
    html = client.get(reverse("admin:accounts_team_change", args=[demo["team"].pk])).content.decode()
    assert f'<option value="{demo["mia"].pk}"' in html
    assert f'<option value="{demo["worker"].pk}"' not in html


def test_an_export_asked_for_before_a_demotion_is_built_with_the_access_of_now(demo):
    # The Celery task builds the file with the requester's scope when it runs.
    from dashboards.models import ExportJob
    from dashboards.services import export_job_run
    from tests.courseapp.factories import make_course

    make_course(lessons=1)
    before, after = (ExportJob.objects.create(requested_by=demo["mia"], kind="matrix", params={}) for _ in "ab")
    assert export_job_run(job_id=before.pk).row_count == 2  # Demo's two people × one lesson
    call_command("people", "add", "mia", "--role", "employee", "--team", "Demo")
    assert export_job_run(job_id=after.pk).row_count == 0
