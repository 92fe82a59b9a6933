"""The manager journey in a real browser: a manager logs in, assigns a course to their
team with a due date, sees the dashboard with its charts, drills into an employee,
and downloads the matrix CSV, whose numbers match the database."""

import csv
import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from courseapp.models import Attempt, AttemptStatus, Lesson, LessonProgress
from dashboards.models import Assignment
from tests.dashboards.factories import attempt, make_course, progress, run, team_with
from tests.e2e.test_foundation_journey import login

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots"


def test_manager_journey(page, tmp_path):
    course = make_course(lessons=3)
    team, manager, people = team_with(3, name="Research")
    _other, _, (stranger,) = team_with(1, name="Sales")
    lessons = list(Lesson.objects.filter(course=course).order_by("position"))
    for i, person in enumerate(people):
        for lesson in lessons[: i + 1]:
            progress(person, lesson, seconds=300 * (i + 1))
        attempt(person, lessons[0].quiz, score=40 + 25 * i)
        run(person, tokens=10 * (i + 1))
    progress(stranger, lessons[0])
    SHOTS.mkdir(parents=True, exist_ok=True)

    login(page, manager.username)
    page.wait_for_url(re.compile(r"/team/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Team dashboard")
    expect(page.locator(".overview-table")).to_contain_text("Research")
    expect(page.locator(".overview-table")).not_to_contain_text("Sales")

    # Assign the course to the team with a due date.
    page.get_by_role("link", name="Assign a course").click()
    page.get_by_label("Course").select_option(label=course.title_text)
    page.get_by_label("Team").select_option(label="Research")
    page.get_by_label("Due date").fill("2031-03-31")
    page.get_by_role("button", name="Assign").click()
    page.wait_for_url(re.compile(rf"/team/{team.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("due 2031-03-31")
    assert Assignment.objects.get(team=team, course=course).due_date.isoformat() == "2031-03-31"

    # The dashboard: figures, both charts drawn by Chart.js, the matrix with text + icons.
    expect(page.get_by_role("heading", level=1)).to_have_text("Research")
    page.wait_for_function("() => window.Chart && Chart.getChart('scores-chart') && Chart.getChart('completion-chart')")
    scores = page.evaluate("() => Chart.getChart('scores-chart').data.datasets[0].data")
    assert sum(scores) == Attempt.objects.filter(user__team=team, status=AttemptStatus.SUBMITTED).count()
    matrix = page.locator("table.matrix")
    expect(matrix.locator("td.cell-done").first).to_contain_text("Done")
    assert matrix.locator("td.cell-done").count() == LessonProgress.objects.filter(
        user__team=team, completed_at__isnull=False).count()
    expect(page.get_by_role("table", name=re.compile("Members of Research"))).not_to_contain_text(stranger.username)
    page.screenshot(path=str(SHOTS / "manager-dashboard.png"), full_page=True)

    # Drill into an employee.
    star = people[2]
    matrix.get_by_role("link", name=star.display_name).click()
    page.wait_for_url(re.compile(rf"/team/people/{star.pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(star.display_name)
    expect(page.locator(".attempts-table")).to_contain_text("90%")
    expect(page.locator(".runs-table tbody tr")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "manager-drilldown.png"), full_page=True)
    page.go_back()

    # Download the matrix CSV; its numbers match the database.
    with page.expect_download() as info:
        page.get_by_role("button", name="Lesson matrix").click()
    path = tmp_path / "matrix.csv"
    info.value.save_as(path)
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    members = team.members.filter(is_active=True).count()
    assert len(rows) == members * len(lessons)
    done = {(r["username"], r["lesson"]) for r in rows if r["status"] == "done"}
    assert done == {(p.user.username, p.lesson.slug) for p in LessonProgress.objects.filter(
        user__team=team, completed_at__isnull=False).select_related("user", "lesson")}
    for r in rows:
        if r["best_score"]:
            best = max(a.score for a in Attempt.objects.filter(user__username=r["username"],
                                                                quiz__lesson__slug=r["lesson"]))
            assert float(r["best_score"]) == best
    assert sum(int(r["time_spent_seconds"]) for r in rows) == sum(
        p.time_spent_seconds for p in LessonProgress.objects.filter(user__team=team))
    assert stranger.username not in {r["username"] for r in rows}

    assert page.watch.errors == [], page.watch.errors  # includes CSP violations
    assert page.watch.foreign == []
