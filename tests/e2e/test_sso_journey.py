"""Company sign-in in chromium, against real identity providers (oidc-provider from npm for
OpenID Connect, SimpleSAMLphp from Debian for SAML 2.0): for each, the first sign-in
creates the person in the mapped team and role, a group change at the provider demotes a
manager at their next sign-in (after which the policy refuses them the team page), and
sign-out works."""

import re

import pytest

from accounts.models import Role, User
from audit.models import AuditEntry
from tests.e2e.conftest import PageWatch
from tests.idp.simplesamlphp import saml_settings, saml_site_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def new_page(browser):
    contexts = []

    def new_page(base_url):
        context = browser.new_context(base_url=base_url, locale="en-US")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15000)
        page.watch = PageWatch(page, base_url)
        return page

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page, live_server, oidc_provider, settings):
    for name, value in oidc_provider.django_settings().items():
        setattr(settings, name, value)
    return new_page(live_server.url)


def unexpected_errors(page):
    """Failed loads other than the refused /team/ and the favicon."""
    return [e for e in page.watch.errors if not e.startswith("Failed to load resource")
            and "/team/" not in e and "favicon" not in e]


def sign_in_with_company(page, login: str):
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with Acme").click()
    page.get_by_label("Login").fill(login)  # the provider's own page
    page.get_by_role("button", name="Sign in at the IdP").click()


def test_oidc_first_sign_in_demotion_and_sign_out(page, oidc_provider):
    oidc_provider.set_user("u-mia", email="mia@acme.test", email_verified=True, name="Mia Chen",
                           groups=["academy-managers"], department="Platform")
    sign_in_with_company(page, "u-mia")
    page.wait_for_url(re.compile(r"/team/$"))
    mia = User.objects.get(email="mia@acme.test")
    assert (mia.role, mia.team.name) == (Role.MANAGER, "Platform")
    assert "Platform" in page.locator("main").inner_text()  # her team's dashboard

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert page.goto("/team/").url.endswith("/accounts/login/?next=/team/")
    assert AuditEntry.objects.filter(action="auth.logout", target_id=str(mia.pk)).count() == 1

    # The directory takes her out of the managers' group: the next sign-in demotes her,
    # and the policy answers for her as for an employee.
    oidc_provider.set_user("u-mia", email="mia@acme.test", email_verified=True, name="Mia Chen",
                           groups=["staff"], department="Platform")
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with Acme").click()  # the provider remembers her
    page.wait_for_url(re.compile(r"/learn/$"))
    mia.refresh_from_db()
    assert (mia.role, mia.managed_teams.count()) == (Role.EMPLOYEE, 0)
    assert page.goto("/team/").status == 403
    assert not unexpected_errors(page), page.watch.errors


def test_saml_first_sign_in_demotion_and_sign_out(new_page, live_server, saml_provider, settings):
    site = saml_site_url(live_server)
    for name, value in saml_settings(saml_provider, site).items():
        setattr(settings, name, value)
    page = new_page(site)
    saml_provider.set_user("s-lea", email="lea@acme.test", displayName="Lea Wong",
                           groups=["academy-managers"], department="Support")
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with Acme").click()
    page.get_by_label("Username").fill("s-lea")  # SimpleSAMLphp's own page
    page.get_by_label("Password").fill("s-lea")
    page.get_by_role("button", name="Login").click()
    page.wait_for_url(re.compile(r"/team/$"), wait_until="domcontentloaded")  # its page posts back by itself
    lea = User.objects.get(email="lea@acme.test")
    assert (lea.role, lea.team.name, lea.name) == (Role.MANAGER, "Support", "Lea Wong")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert AuditEntry.objects.filter(action="auth.logout", target_id=str(lea.pk)).count() == 1

    saml_provider.set_user("s-lea", email="lea@acme.test", displayName="Lea Wong", groups=["staff"],
                           department="Support")
    # SimpleSAMLphp keeps the attributes of its own session, so her IdP session ends too
    # (its cookies; ours have other names), as it would at the next working day.
    for name in ("SimpleSAMLSessionID", "SimpleSAMLAuthToken", "PHPSESSID"):
        page.context.clear_cookies(name=name)
    page.get_by_role("link", name="Sign in with Acme").click()
    page.get_by_label("Username").fill("s-lea")
    page.get_by_label("Password").fill("s-lea")
    page.get_by_role("button", name="Login").click()
    page.wait_for_url(re.compile(r"/learn/$"), wait_until="domcontentloaded")
    lea.refresh_from_db()
    assert (lea.role, lea.managed_teams.count()) == (Role.EMPLOYEE, 0)
    assert page.goto("/team/").status == 403
    assert not unexpected_errors(page), page.watch.errors
