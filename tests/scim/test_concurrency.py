"""People and teams created at the same moment: a directory's batch of SCIM creates into
one new team, and two `people add` commands for a team that does not exist yet."""

import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest

from accounts.models import Team, User
from audit.models import AuditEntry
from scim.tokens import token_create
from tests.processes import ROOT, child_env
from tests.scim.conftest import SCIM, user_body

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_twenty_scim_creates_into_one_new_team_at_once(live_server):
    _token, raw = token_create(name="okta-batch")
    team = f"Drill {uuid.uuid4().hex[:6]}"
    names = [f"p{i:02d}-{uuid.uuid4().hex[:4]}" for i in range(20)]

    def create(name):
        with httpx2.Client(timeout=60) as http:
            return http.post(f"{live_server.url}/scim/v2/Users", json=user_body(name, department=team),
                             headers={"Authorization": f"Bearer {raw}", "Content-Type": SCIM})

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(create, names))
    assert [r.status_code for r in responses] == [201] * 20, [r.text for r in responses if r.status_code != 201]
    assert Team.objects.filter(name=team).count() == 1
    assert User.objects.filter(team__name=team).count() == 20
    assert AuditEntry.objects.filter(action="team.created", target_label=team).count() == 1
    assert AuditEntry.objects.filter(action="user.created", token="okta-batch").count() == 20


def test_two_people_add_commands_for_a_new_team_both_succeed():
    team = f"Drill {uuid.uuid4().hex[:6]}"
    procs = [subprocess.Popen([sys.executable, "manage.py", "people", "add", name, "--team", team],
                              cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for name in ("drill-x", "drill-y")]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert Team.objects.filter(name=team).count() == 1
    assert set(User.objects.filter(team__name=team).values_list("username", flat=True)) == {"drill-x", "drill-y"}


def test_one_username_created_five_times_at_once_is_one_person_and_four_409s(live_server):
    _token, raw = token_create(name="okta-retry")
    name = f"twin-{uuid.uuid4().hex[:6]}"

    def create(_):
        with httpx2.Client(timeout=60) as http:
            return http.post(f"{live_server.url}/scim/v2/Users", json=user_body(name),
                             headers={"Authorization": f"Bearer {raw}", "Content-Type": SCIM})

    with ThreadPoolExecutor(5) as pool:
        codes = sorted(r.status_code for r in pool.map(create, range(5)))
    assert codes == [201, 409, 409, 409, 409]
    assert User.objects.filter(username=name).count() == 1
