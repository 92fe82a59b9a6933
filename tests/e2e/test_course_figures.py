"""The built-in course's figures in a real browser: an employee opens every lesson that
has figures, in English and in Chinese, and each figure of that language is there,
loads (an SVG that fails to parse has no natural size), carries a text alternative in
the page's language, and is saved as a screenshot for a person to look at."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from accounts.models import Role
from courseapp import services
from courseapp.models import Lesson, LessonFigure, Quiz
from tests.courseapp.helpers import responses
from tests.e2e.helpers import login
from tests.factories import make_team, make_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(settings.VAR_DIR) / "screenshots" / "figures"
CJK = re.compile(r"[\u4e00-\u9fff]")
# The switcher's value, and the suffix of that language's figure files.
LANGUAGES = [("en", "en"), ("zh-hans", "zh-Hans")]


def open_every_lesson(employee, course):
    """Done behind the scenes, so no prerequisite locks a lesson's body."""
    for lesson in Lesson.objects.filter(course=course):
        services.lesson_complete(user=employee, lesson=lesson)
    # A quiz with lab questions is graded against a finished fine-tune of the learner's; it locks no lesson.
    for quiz in Quiz.objects.filter(course=course, lesson__isnull=False).exclude(questions__type="lab"):
        started = services.attempt_start(user=employee, quiz=quiz)
        services.attempt_submit(user=employee, attempt_id=started.pk, responses=responses(started))


def test_every_course_figure_loads_in_both_languages(page, registered_models):  # lesson 2 embeds a heatmap
    course = services.course_seed_builtin(log=lambda *_: None)
    employee = make_user(Role.EMPLOYEE, team=make_team())
    open_every_lesson(employee, course)
    lessons = list(Lesson.objects.filter(course=course, figures__isnull=False).distinct().order_by("position"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    login(page, employee.username)

    shown = {}
    for switch_to, suffix in LANGUAGES:
        page.get_by_label(re.compile("^(Language|语言)$")).select_option(switch_to)
        expect(page.locator("html")).to_have_attribute("lang", switch_to)
        shown[suffix] = set()
        for lesson in lessons:
            names = sorted(LessonFigure.objects.filter(lesson=lesson, name__contains=f".{suffix}.")
                           .values_list("name", flat=True))
            assert names, f"{lesson.slug} has no {suffix} figure"
            page.goto(f"/learn/{course.slug}/lessons/{lesson.slug}/")
            images = page.locator(f'.lesson-body img[src*=".{suffix}."]')
            expect(images).to_have_count(len(names))
            other = "en" if suffix == "zh-Hans" else "zh-Hans"
            expect(page.locator(f'.lesson-body img[src*=".{other}."]')).to_have_count(0)
            for index in range(len(names)):
                image = images.nth(index)
                src = image.get_attribute("src")
                name = src.rsplit("/", 1)[-1]
                assert name in names, f"{lesson.slug} ({suffix}) shows {name}, not one of {names}"
                # Loaded and parsed: a broken or blocked SVG never gets a natural size.
                image.scroll_into_view_if_needed()
                page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
                alt = image.get_attribute("alt") or ""
                assert alt.strip(), f"{name} has no text alternative"
                assert bool(CJK.search(alt)) == (suffix == "zh-Hans"), f"{name}'s alt is in the wrong language: {alt}"
                # A titled image is rendered as a <figure> whose <figcaption> holds the title (no tooltip).
                figure = image.locator("xpath=ancestor::figure[1]")
                caption = figure.locator("figcaption").inner_text() if figure.count() else image.get_attribute("title") or ""
                assert bool(CJK.search(caption)) == (suffix == "zh-Hans"), f"{name}'s caption: {caption}"
                (figure if figure.count() else image).screenshot(path=str(SHOTS / f"{name.rsplit('.', 1)[0]}.png"))
                shown[suffix].add(name.split(f".{suffix}.")[0])
            page.screenshot(path=str(SHOTS / f"lesson-{lesson.slug}.{suffix}.png"), full_page=True)

    assert len(shown["en"]) >= 10, sorted(shown["en"])
    assert shown["en"] == shown["zh-Hans"]
    assert page.watch.errors == [], page.watch.errors  # a figure answering 4xx is listed here
    assert page.watch.foreign == []
