"""Company sign-in in chromium, against a real OpenID Provider (oidc-provider from npm):
the first sign-in creates the person in the mapped team and role, a group change at the
provider demotes a manager at their next sign-in, and sign-out works."""

import re

import pytest

from accounts.models import Role, User
from audit.models import AuditEntry
from tests.e2e.conftest import PageWatch

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(browser, live_server, oidc_provider, settings):
    for name, value in oidc_provider.django_settings().items():
        setattr(settings, name, value)
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15000)
    page.watch = PageWatch(page, live_server.url)
    yield page
    context.close()


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
    # (the refused /team/ and the favicon are the only failed loads)
    unexpected = [e for e in page.watch.errors if not e.startswith("Failed to load resource")
                  and "/team/" not in e and "favicon" not in e]
    assert not unexpected, page.watch.errors
