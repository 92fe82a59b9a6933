"""Company sign-in over SAML 2.0 against a real identity provider (SimpleSAMLphp from
Debian, tests/idp/simplesamlphp.py), over HTTP with `requests`: provisioning, and each
refusal (tampered, expired, wrong audience, replayed, unverified email) ending on a
bilingual page with nothing created."""

import base64
import html
import re
import time

import pytest
import requests

from accounts.models import ExternalIdentity, Role, Team, User
from audit.models import AuditEntry
from tests.factories import make_user
from tests.idp.simplesamlphp import saml_settings, saml_site_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def site(settings, saml_provider, live_server):
    url = saml_site_url(live_server)
    for name, value in saml_settings(saml_provider, url).items():
        setattr(settings, name, value)
    return url


def idp_answer(site: str, login: str, session: requests.Session | None = None):
    """Start at the site, sign in at SimpleSAMLphp; returns the session, the ACS URL and
    the form fields (SAMLResponse, RelayState) the IdP's page would post there."""
    session = session or requests.Session()
    page = session.get(f"{site}/accounts/sso/saml/login/", timeout=10)
    if 'name="SAMLResponse"' not in page.text:  # not yet signed in at the IdP
        auth_state = html.unescape(re.search(r'name="AuthState" value="([^"]+)"', page.text).group(1))
        page = session.post(page.url.split("?")[0], data={"username": login, "password": login,
                            "AuthState": auth_state}, timeout=10)
    action = html.unescape(re.search(r'<form[^>]+action="([^"]+)"', page.text).group(1))
    fields = {name: html.unescape(value)
              for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text)}
    assert "SAMLResponse" in fields, page.text[:2000]
    return session, action, fields


def post_answer(session, action, fields, **headers):
    return session.post(action, data=fields, timeout=10, headers=headers)


def counts():
    """People, teams, links, and the last audit entry so far."""
    last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return User.objects.count(), Team.objects.count(), ExternalIdentity.objects.count(), last


def test_first_sign_in_provisions_and_a_demotion_holds_at_the_next(site, saml_provider):
    saml_provider.set_user("s-ana", email="ana@acme.test", displayName="Ana Ruiz",
                           groups=["academy-managers"], department="Research")
    session, action, fields = idp_answer(site, "s-ana")
    response = post_answer(session, action, fields)
    assert response.status_code == 200 and "/team/" in response.url, (response.status_code, response.url)
    ana = User.objects.get(email="ana@acme.test")
    assert (ana.username, ana.name, ana.role, ana.team.name) == ("s-ana", "Ana Ruiz", Role.MANAGER, "Research")
    assert AuditEntry.objects.get(action="auth.login", target_id=str(ana.pk)).after == {"protocol": "saml"}

    saml_provider.set_user("s-ana", email="ana@acme.test", displayName="Ana Ruiz", groups=["staff"],
                           department="Research")
    session.post(f"{site}/accounts/logout/", data={"csrfmiddlewaretoken": session.cookies.get("csrftoken")},
                 headers={"Referer": f"{site}/"}, timeout=10)
    session, action, fields = idp_answer(site, "s-ana", requests.Session())
    response = post_answer(session, action, fields)
    assert "/learn/" in response.url
    ana.refresh_from_db()
    assert (ana.role, ana.managed_teams.count()) == (Role.EMPLOYEE, 0)
    assert session.get(f"{site}/team/", timeout=10).status_code == 403


def assert_refused(response, before, *, reason: str, detail: str = ""):
    """Refused with the page, nothing created, and one audit entry saying which check."""
    assert response.status_code == 400, (response.status_code, response.url, response.text[:500])
    assert "Sign-in refused" in response.text or "登录被拒绝" in response.text
    assert counts()[:3] == before[:3]
    new = AuditEntry.objects.filter(id__gt=before[3])
    assert [(e.action, e.after["reason"]) for e in new] == [("auth.login_failed", reason)]
    assert detail in new[0].after["detail"], new[0].after["detail"]


def test_a_replayed_response_is_refused(site, saml_provider):
    saml_provider.set_user("s-bo", email="bo@acme.test", groups=["staff"], department="Ops")
    session, action, fields = idp_answer(site, "s-bo")
    assert "/learn/" in post_answer(session, action, fields).url
    # The same response again, from the same browser and from another one.
    before = counts()
    replay = post_answer(session, action, fields, **{"Accept-Language": "zh-hans"})
    assert_refused(replay, before, reason="replayed", detail="Unsolicited response")
    assert "此登录应答已被使用过" in replay.text
    before = counts()
    assert_refused(post_answer(requests.Session(), action, fields), before, reason="replayed")


def test_a_tampered_response_is_refused(site, saml_provider):
    saml_provider.set_user("s-cy", email="cy@acme.test", groups=["staff"], department="Ops")
    session, action, fields = idp_answer(site, "s-cy")
    xml = base64.b64decode(fields["SAMLResponse"]).decode()
    assert ">staff<" in xml
    fields["SAMLResponse"] = base64.b64encode(xml.replace(">staff<", ">academy-admins<").encode()).decode()
    before = counts()
    assert_refused(post_answer(session, action, fields), before, reason="token_invalid",
                   detail="Failed to verify signature")


def test_an_expired_response_is_refused(site, saml_provider, settings):
    saml_provider.set_user("s-di", email="di@acme.test", groups=["staff"], department="Ops")
    settings.SAML_CONFIG = settings.SAML_CONFIG | {"accepted_time_diff": 0}  # no clock-skew allowance
    saml_provider.configure_sp(lifetime=1)
    try:
        session, action, fields = idp_answer(site, "s-di")
    finally:
        saml_provider.configure_sp(lifetime=None)
    time.sleep(2)
    before = counts()
    assert_refused(post_answer(session, action, fields), before, reason="token_invalid", detail="too old")


def test_a_response_for_another_audience_is_refused(site, saml_provider, settings):
    saml_provider.set_user("s-ed", email="ed@acme.test", groups=["staff"], department="Ops")
    session, action, fields = idp_answer(site, "s-ed")
    # The site now answers as another service provider: the assertion is not for it.
    settings.SAML_CONFIG = settings.SAML_CONFIG | {"entityid": "https://other-app.example/saml/"}
    before = counts()
    assert_refused(post_answer(session, action, fields), before, reason="token_invalid",
                   detail="AudienceRestrictions conditions not satisfied")


def test_an_email_matching_an_account_is_not_linked_unless_the_provider_is_trusted(site, saml_provider, settings):
    local = make_user(Role.ADMIN, username="fay")
    saml_provider.set_user("s-fay", email=local.email, groups=["staff"], department="Takeover")
    before = counts()
    session, action, fields = idp_answer(site, "s-fay")
    response = post_answer(session, action, fields)
    assert_refused(response, before, reason="unverified_email")
    assert "has not verified that the email is yours" in response.text

    settings.SAML_EMAIL_VERIFIED = True  # the IdP's email comes from the directory
    session, action, fields = idp_answer(site, "s-fay", requests.Session())
    assert post_answer(session, action, fields).status_code == 200
    assert ExternalIdentity.objects.get(subject="s-fay").user == local
