"""Reading time in a real browser: an employee reads a lesson for a few seconds,
scrolling and moving the pointer, switches to another tab (the page hidden), comes back
and sits idle; My progress shows the active time, not the hidden or idle time (test
settings: reports every 2 s, idle after 4 s)."""

import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from courseapp.models import Lesson, LessonProgress
from tests.courseapp.factories import make_course
from tests.e2e.helpers import login
from tests.factories import make_team, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"
ACTIVE, HIDDEN, IDLE = 6, 6, 9  # seconds
# What the browser reports when its user switches tabs (headless chromium never hides a page).
SET_VISIBILITY = """state => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => state});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def read(page, seconds):
    """Scroll and move the pointer, as a reader does, for `seconds`."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        page.mouse.move(200 + 10 * (time.monotonic() % 7), 300)
        page.mouse.wheel(0, 60)
        page.wait_for_timeout(700)


def test_active_reading_time_reaches_my_progress(page):
    long_body = "# Reading\n\n" + "\n\n".join(f"Paragraph {i}: attention weights sum to one." for i in range(80))
    course = make_course(lessons=1, quizzes=False, body=long_body)
    lesson = Lesson.objects.get(course=course)
    employee = make_user(Role.EMPLOYEE, team=make_team())
    login(page, employee.username)

    started = time.monotonic()
    page.goto(lesson.get_absolute_url())
    expect(page.get_by_role("heading", level=1)).to_have_text("Lesson m1-l1")
    read(page, ACTIVE - (time.monotonic() - started))
    active_until = time.monotonic()
    page.evaluate(SET_VISIBILITY, "hidden")  # in another tab: activity there is not reading this
    read(page, HIDDEN)
    page.evaluate(SET_VISIBILITY, "visible")
    page.wait_for_timeout(IDLE * 1000)  # back, but away from the keyboard with the tab open
    left = time.monotonic()

    page.get_by_role("link", name="My progress").click()  # leaving sends the rest (pagehide)
    page.wait_for_url(re.compile(r"/me/progress/$"))
    cell = page.get_by_role("row", name=re.compile("Lesson m1-l1")).locator("td").nth(2)  # "Time spent"
    expect(cell).to_have_text(re.compile(r"^[1-9]\d* s$"))
    page.wait_for_timeout(500)  # the last beacon
    spent = LessonProgress.objects.get(user=employee, lesson=lesson).time_spent_seconds
    shown = int(cell.inner_text().split()[0])
    assert 0 < shown <= spent
    # Active time plus at most the idle allowance (and a second's tick); not the hidden or idle time.
    assert ACTIVE - 2 <= spent <= (active_until - started) + settings.LESSON_IDLE_SECONDS + 2
    assert spent < left - started - HIDDEN
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "my-progress-reading-time.png"), full_page=True)
    assert page.watch.errors == [] and page.watch.foreign == []


def test_leaving_the_page_sends_what_is_pending(page):
    """No periodic report at all here (the page's interval is stretched before its script
    reads it): only the beacon sent as the page is left delivers the time, CSRF token and all."""
    course = make_course(lessons=1, quizzes=False)
    lesson = Lesson.objects.get(course=course)
    employee = make_user(Role.EMPLOYEE, team=make_team())
    login(page, employee.username)
    page.add_init_script("""document.addEventListener("readystatechange", () => {
      const el = document.readyState === "interactive" && document.querySelector("[data-reading-url]");
      if (el) el.dataset.reportSeconds = "3600";
    });""")
    page.goto(lesson.get_absolute_url())
    expect(page.locator("[data-reading-url]")).to_have_attribute("data-report-seconds", "3600")
    read(page, 4)
    progress = LessonProgress.objects.get(user=employee, lesson=lesson)
    assert progress.time_spent_seconds == 0  # nothing reported while on the page
    page.get_by_role("link", name="My progress").click()
    page.wait_for_url(re.compile(r"/me/progress/$"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not LessonProgress.objects.get(pk=progress.pk).time_spent_seconds:
        time.sleep(0.2)
    assert 3 <= LessonProgress.objects.get(pk=progress.pk).time_spent_seconds <= 6
    assert page.watch.errors == []
