"""Accessibility: axe-core (from npm, the engine behind most WCAG checkers) runs on the
main pages in both languages and must report no WCAG 2.1 A or AA violation.

axe is injected into the page under test with the page's CSP bypassed (our CSP allows
no inline script, rightly); the page itself is served and rendered as for any learner."""

import json
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Role
from courseapp import services
from tests.e2e.helpers import login
from tests.factories import make_team, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
LESSON = "lessons/02-transformer-attention/"  # math, code, figures and an embedded heatmap

# (who, path): the pages a learner, a manager and an admin spend their time on.
PAGES = [
    (None, "/accounts/login/"),
    (Role.EMPLOYEE, "/learn/"),
    (Role.EMPLOYEE, "/learn/{course}/"),
    (Role.ADMIN, "/learn/{course}/" + LESSON),  # admins open any lesson past its prerequisites
    (Role.EMPLOYEE, "/playground/"),
    (Role.EMPLOYEE, "/playground/attention/"),
    (Role.EMPLOYEE, "/playground/lens/"),
    (Role.EMPLOYEE, "/training/"),
    (Role.EMPLOYEE, "/me/progress/"),
    (Role.MANAGER, "/team/"),
    (Role.MANAGER, "/team/literacy/"),
    (Role.ADMIN, "/audit/"),
]


def axe_violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async (tags) => {
            const r = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
        }""",
        TAGS,
    )
    return result


@pytest.fixture
def course():
    return services.course_seed_builtin(log=lambda *_: None)  # per test: each flushes the database


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_main_pages_have_no_wcag_violations(browser, asgi_server, course, language):
    assert AXE.exists(), "axe-core is missing: run bin/setup (npm ci)"
    team = make_team()
    people = {role: make_user(role, team=team) for role in (Role.EMPLOYEE, Role.MANAGER, Role.ADMIN)}
    found = {}
    for role in [None, *people]:
        context = browser.new_context(base_url=asgi_server, bypass_csp=True, locale="en-US")
        page = context.new_page()
        page.set_default_timeout(15000)
        if role is not None:
            login(page, people[role].username, wait=False)  # the form in English, then the language
            page.wait_for_load_state("networkidle")
        context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": asgi_server}])
        for who, path in PAGES:
            if who != role:
                continue
            url = path.format(course=course.slug)
            response = page.goto(url)
            assert response.status == 200, url
            page.wait_for_load_state("networkidle")
            assert page.locator("html").get_attribute("lang") == language, url
            violations = axe_violations(page)
            if violations:
                found[url] = violations
        context.close()
    assert found == {}, json.dumps(found, indent=1, ensure_ascii=False)
