"""The AI-literacy record in a real browser: a manager opens their team's printable
record in English and in Chinese; in print media the site's chrome is gone and the
certificate's verification link is there; an admin filters the audit log.
Screenshots: var/screenshots/literacy-record-*, audit-log.png."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from courseapp import services as learn
from courseapp.models import Certificate, Lesson
from tests.dashboards.factories import make_course, team_with
from tests.e2e.helpers import login
from tests.factories import make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"


def test_the_printable_record_in_english_and_chinese(page):
    course = make_course(lessons=1, quizzes=False)
    team, manager, (ana, _ben) = team_with(2, name="Research")
    learn.lesson_complete(user=ana, lesson=Lesson.objects.get(course=course))  # all done: a certificate
    code = Certificate.objects.get(user=ana).code
    SHOTS.mkdir(parents=True, exist_ok=True)

    login(page, manager.username)
    page.goto(f"/team/{team.pk}/")
    page.get_by_role("link", name="AI-literacy record").click()
    page.wait_for_url(re.compile(rf"/team/{team.pk}/literacy/$"))
    for lang, heading, lesson in (("en", "AI-literacy record: Research", "Lesson m1-l1"),
                                  ("zh-hans", "AI 素养记录: Research", "第 m1-l1 课")):
        if lang != "en":
            page.get_by_label("Language").select_option(lang)
            expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        expect(page.locator(".lessons-table").first).to_contain_text(lesson)
        expect(page.locator(".verify-url")).to_have_text(re.compile(rf"/learn/certificates/{code}/$"))
        page.screenshot(path=str(SHOTS / f"literacy-record-{lang}.png"), full_page=True)
        page.emulate_media(media="print")
        expect(page.locator(".site-header")).to_be_hidden()
        expect(page.locator(".record-actions")).to_be_hidden()
        page.screenshot(path=str(SHOTS / f"literacy-record-{lang}-print.png"), full_page=True)
        page.emulate_media(media="screen")
    assert page.watch.foreign == [] and page.watch.errors == []


def test_the_audit_log_page(page):
    admin = make_user(Role.ADMIN)
    team, _manager, _people = team_with(1, name="Ops")  # leaves user.created and team.created
    login(page, admin.username)
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(re.compile(r"/audit/$"))
    expect(page.locator(".audit-table")).to_contain_text("team.created")
    page.get_by_label("Action").select_option("team.created")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".audit-table tbody tr")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "audit-log.png"), full_page=True)
    assert page.watch.errors == []
