"""accounts.sso.user_provision_from_idp, the one service every company sign-in goes
through (OIDC and SAML alike), tested directly."""

import pytest

from accounts.models import ExternalIdentity, Role, Team, User
from accounts.sso import IdPIdentity, SSORefused, user_provision_from_idp
from audit.models import AuditEntry, Source
from audit.services import Origin
from tests.courseapp.test_concurrency import _race  # n threads released together
from tests.factories import make_team, make_user

ORIGIN = Origin(source=Source.IDP, label="oidc:https://idp.test")


@pytest.fixture(autouse=True)
def groups(settings):
    settings.SSO_MANAGER_GROUPS = ["leads"]
    settings.SSO_ADMIN_GROUPS = ["it"]


def who(subject="s1", **fields) -> IdPIdentity:
    return IdPIdentity(issuer="https://idp.test", subject=subject, **fields)


@pytest.mark.django_db
def test_groups_map_to_roles_and_the_department_to_a_team():
    assert user_provision_from_idp(identity=who("a", email="a@x.test", groups=["it", "leads"]),
                                   origin=ORIGIN).role == Role.ADMIN
    lead = user_provision_from_idp(identity=who("b", email="b@x.test", groups=["leads"], department="Ops"),
                                   origin=ORIGIN)
    assert (lead.role, lead.team.name, list(lead.managed_teams.all())) == (Role.MANAGER, "Ops", [lead.team])
    assert user_provision_from_idp(identity=who("c", email="c@x.test", groups=["staff"]),
                                   origin=ORIGIN).role == Role.EMPLOYEE


@pytest.mark.django_db
def test_a_demoted_admin_loses_the_django_admin_flags_and_one_entry_says_so():
    admin = user_provision_from_idp(identity=who(email="d@x.test", groups=["it"]), origin=ORIGIN)
    assert admin.is_superuser
    again = user_provision_from_idp(identity=who(email="d@x.test", groups=[]), origin=ORIGIN)
    assert again.pk == admin.pk and not again.is_superuser and not again.is_staff
    entry = AuditEntry.objects.get(action="user.access_changed", target_id=str(admin.pk))
    assert (entry.before, entry.after, entry.source) == ({"role": "admin"}, {"role": "employee"}, "idp")


@pytest.mark.django_db
def test_the_link_holds_when_the_email_changes_at_the_provider():
    first = user_provision_from_idp(identity=who(email="old@x.test"), origin=ORIGIN)
    later = user_provision_from_idp(identity=who(email="new@x.test"), origin=ORIGIN)
    assert later.pk == first.pk and later.email == "new@x.test" and User.objects.count() == 1


@pytest.mark.django_db
def test_an_unverified_email_never_links_and_creates_nothing():
    local = make_user(Role.ADMIN)
    before = (User.objects.count(), Team.objects.count(), ExternalIdentity.objects.count())
    with pytest.raises(SSORefused) as refused:
        user_provision_from_idp(identity=who(email=local.email.upper(), department="New team"), origin=ORIGIN)
    assert refused.value.code == "unverified_email"
    assert (User.objects.count(), Team.objects.count(), ExternalIdentity.objects.count()) == before


@pytest.mark.django_db
def test_a_deactivated_person_is_refused():
    user = user_provision_from_idp(identity=who(email="e@x.test"), origin=ORIGIN)
    User.objects.filter(pk=user.pk).update(is_active=False)
    with pytest.raises(SSORefused) as refused:
        user_provision_from_idp(identity=who(email="e@x.test", groups=["it"]), origin=ORIGIN)
    assert refused.value.code == "inactive"
    assert User.objects.get(pk=user.pk).role == Role.EMPLOYEE


@pytest.mark.django_db(transaction=True)
def test_twenty_first_sign_ins_into_one_new_team_at_once():
    make_team("Elsewhere")
    outcomes = _race(20, lambda n: user_provision_from_idp(
        identity=who(f"new-{n}", email=f"n{n}@x.test", department="Drill"), origin=ORIGIN))
    assert [kind for kind, _ in outcomes] == ["ok"] * 20, outcomes
    drill = Team.objects.get(name="Drill")
    assert drill.members.count() == 20
    assert AuditEntry.objects.filter(action="team.created", target_id=str(drill.pk)).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_first_sign_in_twice_at_once_makes_one_person():
    outcomes = _race(2, lambda _: user_provision_from_idp(
        identity=who("twin", email="t@x.test", username="twin"), origin=ORIGIN).pk)
    assert [kind for kind, _ in outcomes] == ["ok"] * 2, outcomes
    assert len({pk for _, pk in outcomes}) == 1 and User.objects.filter(email="t@x.test").count() == 1
