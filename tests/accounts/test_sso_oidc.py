"""Company sign-in over OpenID Connect against a real provider (oidc-provider from npm,
tests/idp/oidc.py), over HTTP with `requests`: provisioning at every sign-in, and each
refusal ending on a bilingual page with nothing created."""

import re
import time

import pytest
import requests

from accounts.models import ExternalIdentity, Role, Team, User
from accounts.oidc import OIDCBackend
from audit.models import AuditEntry
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def site(settings, oidc_provider, live_server):
    for name, value in oidc_provider.django_settings().items():
        setattr(settings, name, value)
    return live_server.url


def sign_in(site: str, login: str, session: requests.Session | None = None) -> requests.Response:
    """Start at the site, sign in at the provider's page, follow the redirects back."""
    session = session or requests.Session()
    page = session.get(f"{site}/accounts/sso/oidc/start/", timeout=10)
    assert page.status_code == 200, page.text
    action = re.search(r'action="([^"]+)"', page.text).group(1)
    idp = re.match(r"https?://[^/]+", page.url).group(0)
    response = session.post(idp + action, data={"login": login}, timeout=10)
    response.session = session
    return response


def counts():
    return User.objects.count(), Team.objects.count(), ExternalIdentity.objects.count()


def test_first_sign_in_provisions_and_a_demotion_holds_at_the_next(site, oidc_provider):
    oidc_provider.set_user("u-ana", email="ana@acme.test", email_verified=True, name="Ana Ruiz",
                           preferred_username="ana", groups=["academy-managers", "staff"], department="Research")
    response = sign_in(site, "u-ana")
    assert response.status_code == 200 and "/team/" in response.url, response.url
    ana = User.objects.get(email="ana@acme.test")
    assert (ana.username, ana.name, ana.role, ana.team.name) == ("ana", "Ana Ruiz", Role.MANAGER, "Research")
    assert list(ana.managed_teams.values_list("name", flat=True)) == ["Research"]
    assert not ana.has_usable_password()
    login = AuditEntry.objects.get(action="auth.login", target_id=str(ana.pk))
    assert login.source == "idp" and login.after == {"protocol": "oidc"}
    assert AuditEntry.objects.filter(action="user.created", target_id=str(ana.pk), source="idp").count() == 1

    # The directory demotes her and moves her; the next sign-in applies it.
    oidc_provider.set_user("u-ana", email="ana@acme.test", email_verified=True, name="Ana Ruiz",
                           groups=["staff"], department="Sales")
    response = sign_in(site, "u-ana")
    assert response.status_code == 200 and "/learn/" in response.url, response.url
    ana.refresh_from_db()
    assert (ana.role, ana.team.name, ana.managed_teams.count()) == (Role.EMPLOYEE, "Sales", 0)
    assert User.objects.filter(email="ana@acme.test").count() == 1
    change = AuditEntry.objects.get(action="user.access_changed", target_id=str(ana.pk))
    assert change.before == {"role": "manager", "team": "Research"} and change.source == "idp"
    assert response.session.get(f"{site}/team/", timeout=10).status_code == 403
    assert AuditEntry.objects.filter(action="auth.login", target_id=str(ana.pk)).count() == 2


def test_a_verified_email_links_the_existing_account_and_a_taken_username_does_not(site, oidc_provider):
    local = make_user(Role.EMPLOYEE, username="bo")
    other = make_user(Role.EMPLOYEE, username="carla")
    oidc_provider.set_user("u-bo", email=local.email, email_verified=True, name="Bo", groups=[])
    assert sign_in(site, "u-bo").status_code == 200
    assert ExternalIdentity.objects.get(subject="u-bo").user == local
    # A different person whose preferred username is "carla" gets an account of their own.
    oidc_provider.set_user("u-carla2", email="c2@acme.test", email_verified=True, preferred_username="carla")
    assert sign_in(site, "u-carla2").status_code == 200
    newcomer = ExternalIdentity.objects.get(subject="u-carla2").user
    assert newcomer != other and newcomer.username == "carla-2"


def assert_refused(response, before, *, reason: str):
    assert response.status_code == 400, (response.status_code, response.url)
    assert "Sign-in refused" in response.text or "登录被拒绝" in response.text
    assert counts() == before
    failed = AuditEntry.objects.filter(action="auth.login_failed")
    assert failed.count() == 1 and failed.get().after["reason"] == reason
    assert not AuditEntry.objects.filter(action__in=["auth.login", "user.created", "team.created"]).exists()


def test_an_unverified_email_matching_an_account_is_refused(site, oidc_provider):
    local = make_user(Role.ADMIN, username="dora")
    before, entries = counts(), AuditEntry.objects.count()
    oidc_provider.set_user("u-dora", email=local.email, email_verified=False, groups=["academy-admins"],
                           department="Takeover")
    response = sign_in(site, "u-dora")
    assert response.status_code == 400
    assert "has not verified that the email is yours" in response.text
    assert counts() == before and AuditEntry.objects.count() == entries + 1
    assert AuditEntry.objects.get(action="auth.login_failed").after["reason"] == "unverified_email"
    assert not ExternalIdentity.objects.filter(subject="u-dora").exists()


def _with_token(monkeypatch, change):
    real = OIDCBackend.get_token

    def get_token(self, payload):
        token = real(self, payload)
        token["id_token"] = change(token["id_token"])
        return token

    monkeypatch.setattr(OIDCBackend, "get_token", get_token)


def _claims(token: str) -> dict:
    import jwt

    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize("how", ["tampered", "expired", "wrong_audience", "wrong_issuer"])
def test_a_bad_id_token_is_refused_and_creates_nothing(site, oidc_provider, monkeypatch, how):
    oidc_provider.set_user("u-eve", email="eve@acme.test", email_verified=True, groups=["academy-admins"],
                           department="Nowhere")
    now = int(time.time())

    def change(token):
        if how == "tampered":  # the payload edited, the provider's signature kept
            import base64
            import json

            head, _payload, sig = token.split(".")
            claims = _claims(token) | {"sub": "u-root"}
            body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            return f"{head}.{body}.{sig}"
        extra = {"expired": {"exp": now - 3600, "iat": now - 7200},
                 "wrong_audience": {"aud": "another-app"},
                 "wrong_issuer": {"iss": "http://127.0.0.1:1/evil"}}[how]
        return oidc_provider.mint(_claims(token) | extra)  # signed with the provider's real key

    _with_token(monkeypatch, change)
    before = counts()
    assert_refused(sign_in(site, "u-eve"), before, reason="token_invalid")


def test_a_state_mismatch_is_refused(site, oidc_provider):
    oidc_provider.set_user("u-fay", email="fay@acme.test", email_verified=True)
    session = requests.Session()
    page = session.get(f"{site}/accounts/sso/oidc/start/", timeout=10)
    action = re.search(r'action="([^"]+)"', page.text).group(1)
    idp = re.match(r"https?://[^/]+", page.url).group(0)
    back = session.post(idp + action, data={"login": "u-fay"}, timeout=10, allow_redirects=False)
    while "/accounts/sso/oidc/callback/" not in back.headers["Location"]:
        back = session.get(requests.compat.urljoin(back.url, back.headers["Location"]), timeout=10,
                           allow_redirects=False)
    forged = re.sub(r"state=[^&]+", "state=forged-by-someone-else", back.headers["Location"])
    before = counts()
    response = session.get(forged, timeout=10, headers={"Accept-Language": "zh-hans"})
    assert_refused(response, before, reason="state_mismatch")
    assert "请从登录页重新开始" in response.text


def test_local_passwords_off_leaves_only_the_break_glass_admin(site, settings):
    settings.SSO_LOCAL_PASSWORDS = False
    settings.SSO_BREAK_GLASS_USERNAMES = ["root-admin"]
    make_user(Role.ADMIN, username="root-admin")
    make_user(Role.EMPLOYEE, username="gus")

    def password_login(username):
        session = requests.Session()
        page = session.get(f"{site}/accounts/login/", timeout=10)
        assert "Sign in with Acme" in page.text and "Emergency administrator sign-in" in page.text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return session.post(f"{site}/accounts/login/", data={"username": username, "password": PASSWORD,
                            "csrfmiddlewaretoken": token}, headers={"Referer": f"{site}/accounts/login/"},
                            timeout=10), session

    chinese = requests.get(f"{site}/accounts/login/", headers={"Accept-Language": "zh-hans"}, timeout=10)
    assert "使用Acme账号登录" in chinese.text and "管理员应急登录" in chinese.text
    refused, _ = password_login("gus")
    assert "/accounts/login/" in refused.url
    assert AuditEntry.objects.filter(action="auth.login_failed", after__username="gus").count() == 1
    ok, session = password_login("root-admin")
    assert "/accounts/login/" not in ok.url
    assert AuditEntry.objects.filter(action="auth.login", after__protocol="password").count() == 1
    token = session.cookies.get("csrftoken")
    session.post(f"{site}/accounts/logout/", data={"csrfmiddlewaretoken": token},
                 headers={"Referer": f"{site}/"}, timeout=10)
    assert AuditEntry.objects.filter(action="auth.logout").count() == 1


def test_a_refusal_at_the_provider_ends_on_the_refusal_page(site, oidc_provider):
    before = counts()
    response = sign_in(site, "nobody-at-the-idp")  # the provider answers error=access_denied
    assert_refused(response, before, reason="idp_error")
    assert "did not sign you in" in response.text
