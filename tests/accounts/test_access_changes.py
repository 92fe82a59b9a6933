"""Role and team changes take effect on the next request: the `people` command and the
admin both go through accounts.services, which keeps Team.managers in step."""

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import Role, Team, User
from playground.models import PlaygroundRun, RunStatus
from tests.factories import make_team, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_waiting_for_a_model_worker(monkeypatch):
    # The attention endpoints ask a model worker, which these tests don't run: an allowed
    # request answers 503 (no worker) at once instead of after 30 s.
    monkeypatch.setattr("playground.attention_views.WORKER_TIMEOUT", 0.2)


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
