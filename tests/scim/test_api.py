"""/scim/v2/ as Okta and Entra ID use it: create, find, patch, groups, delete."""

import pytest

from accounts.models import Role, User
from audit.models import AuditEntry
from scim.models import DirectoryUser
from tests.factories import make_user
from tests.scim.conftest import user_body

pytestmark = pytest.mark.django_db
BASE = "/scim/v2"


def patch(ops):
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}


def test_create_find_and_get_a_user_with_their_department_as_team(scim):
    r = scim.post(f"{BASE}/Users", user_body("ana", department="Research", externalId="00u1"))
    assert r.status_code == 201, r.content
    created = r.json()
    user = User.objects.get(username="ana")
    assert (user.team.name, user.role, user.email, user.name) == ("Research", Role.EMPLOYEE, "ana@example.com",
                                                                   "Ana Doe")
    assert created["id"] == user.directory.scim_id and created["active"] is True
    for query in ('userName eq "ANA"', 'externalId eq "00u1"', 'displayName eq "Ana Doe"'):
        found = scim.get(f"{BASE}/Users", {"filter": query}).json()
        assert [u["id"] for u in found["Resources"]] == [created["id"]], query
    assert scim.get(f"{BASE}/Users", {"filter": 'userName eq "bob"'}).json()["totalResults"] == 0
    got = scim.get(f"{BASE}/Users/{created['id']}").json()
    assert got["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == {"department": "Research"}
    entry = AuditEntry.objects.get(action="user.created", target_id=str(user.pk))
    assert (entry.source, entry.token) == ("scim", "okta-test")


def test_a_taken_username_is_a_409_and_an_unknown_id_a_404(scim):
    assert scim.post(f"{BASE}/Users", user_body("ana")).status_code == 201
    r = scim.post(f"{BASE}/Users", user_body("ana"))
    assert r.status_code == 409 and r.json()["scimType"] == "uniqueness"
    r = scim.get(f"{BASE}/Users/nope")
    assert r.status_code == 404 and "urn:ietf:params:scim:api:messages:2.0:Error" in r.json()["schemas"]


def test_a_local_admin_is_never_adopted(scim):
    make_user(Role.ADMIN, username="root")
    assert scim.post(f"{BASE}/Users", user_body("root")).status_code == 409
    assert not DirectoryUser.objects.exists()


def test_okta_and_entra_patch_shapes_for_active_and_profile(scim):
    uid = scim.post(f"{BASE}/Users", user_body("ana")).json()["id"]
    okta = patch([{"op": "replace", "value": {"active": False}}])
    assert scim.patch(f"{BASE}/Users/{uid}", okta).json()["active"] is False
    assert not User.objects.get(username="ana").is_active
    entra = patch([{"op": "Replace", "path": "active", "value": "True"},
                   {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ana@corp.example"},
                   {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                    "value": "Sales"}])
    r = scim.patch(f"{BASE}/Users/{uid}", entra)
    assert r.status_code == 200, r.content
    user = User.objects.get(username="ana")
    assert (user.is_active, user.email, user.team.name) == (True, "ana@corp.example", "Sales")
    assert list(AuditEntry.objects.filter(target_type="accounts.user", target_id=str(user.pk)).order_by("id").values_list("action", flat=True)) \
        == ["user.created", "user.deactivated", "user.access_changed", "user.reactivated"]


def test_groups_are_teams_and_the_manager_group_is_the_role(scim, settings):
    ana = scim.post(f"{BASE}/Users", user_body("ana")).json()["id"]
    bob = scim.post(f"{BASE}/Users", user_body("bob")).json()["id"]
    r = scim.post(f"{BASE}/Groups", {"displayName": "Drill", "members": [{"value": ana}]})
    assert r.status_code == 201, r.content
    drill = r.json()["id"]
    assert User.objects.get(username="ana").team.name == "Drill"
    mgr = scim.post(f"{BASE}/Groups", {"displayName": settings.SCIM_MANAGER_GROUP, "members": []}).json()["id"]
    # Okta adds and removes members with these shapes; Entra ID with a value list.
    scim.patch(f"{BASE}/Groups/{drill}", patch([{"op": "add", "path": "members", "value": [{"value": bob}]}]))
    scim.patch(f"{BASE}/Groups/{mgr}", patch([{"op": "Add", "path": "members", "value": [{"value": ana}]}]))
    ana_user = User.objects.get(username="ana")
    assert (ana_user.role, ana_user.team.name) == (Role.MANAGER, "Drill")
    assert list(ana_user.managed_teams.values_list("name", flat=True)) == ["Drill"]
    members = {m["value"] for m in scim.get(f"{BASE}/Groups/{drill}").json()["members"]}
    assert members == {ana, bob}
    scim.patch(f"{BASE}/Groups/{mgr}", patch([{"op": "remove", "path": f'members[value eq "{ana}"]'}]))
    scim.patch(f"{BASE}/Groups/{drill}", patch([{"op": "Remove", "path": "members", "value": [{"value": bob}]}]))
    ana_user, bob_user = User.objects.get(username="ana"), User.objects.get(username="bob")
    assert (ana_user.role, list(ana_user.managed_teams.all()), bob_user.team) == (Role.EMPLOYEE, [], None)
    found = scim.get(f"{BASE}/Groups", {"filter": 'displayName eq "drill"'}).json()
    assert [g["id"] for g in found["Resources"]] == [drill]


def test_delete_deactivates_and_never_erases(scim):
    uid = scim.post(f"{BASE}/Users", user_body("ana", department="Research")).json()["id"]
    assert scim.delete(f"{BASE}/Users/{uid}").status_code == 204
    user = User.objects.get(username="ana")
    assert not user.is_active and user.team.name == "Research"
    assert scim.get(f"{BASE}/Users/{uid}").status_code == 404
    assert AuditEntry.objects.filter(action="user.deactivated", target_id=str(user.pk)).count() == 1
    # Rehired: the same person comes back under a new SCIM id.
    again = scim.post(f"{BASE}/Users", user_body("ana")).json()
    assert again["id"] != uid and again["active"] is True
    assert User.objects.filter(username="ana").count() == 1


def test_discovery_endpoints(scim):
    config = scim.get(f"{BASE}/ServiceProviderConfig").json()
    assert config["patch"]["supported"] and config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = {t["id"] for t in scim.get(f"{BASE}/ResourceTypes").json()["Resources"]}
    assert types == {"User", "Group"}
    ids = {s["id"] for s in scim.get(f"{BASE}/Schemas").json()["Resources"]}
    assert "urn:ietf:params:scim:schemas:core:2.0:User" in ids


def test_a_session_is_not_a_token_and_a_revoked_token_is_refused(client, scim, admin_user):
    from scim.tokens import token_revoke

    client.force_login(admin_user)
    assert client.get(f"{BASE}/Users").status_code == 401
    assert scim.get(f"{BASE}/Users").status_code == 200
    token_revoke(name="okta-test")
    assert scim.get(f"{BASE}/Users").status_code == 401
