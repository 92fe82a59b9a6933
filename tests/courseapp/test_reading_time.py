"""Active reading time: the lesson page reports seconds (static/js/reading.js) to
lesson_time, which adds them, clamped, to the learner's own progress."""

import threading

import pytest
from django.db import connection
from django.test import Client

from courseapp import services
from courseapp.models import Lesson, LessonProgress
from dashboards import selectors as dashboards
from dashboards.filters import Filters
from tests.courseapp.factories import make_course

pytestmark = pytest.mark.django_db


def spent(user, lesson) -> int:
    return LessonProgress.objects.get(user=user, lesson=lesson).time_spent_seconds


@pytest.fixture
def lesson(employee):
    course = make_course(lessons=2, quizzes=False)
    return Lesson.objects.get(course=course, slug="m1-l1")


def url(lesson) -> str:
    return f"/learn/{lesson.course.slug}/lessons/{lesson.slug}/time/"


def test_reports_add_up_clamped(client, employee, lesson):
    client.force_login(employee)
    assert client.get(f"/learn/{lesson.course.slug}/lessons/{lesson.slug}/").status_code == 200  # opens it
    page = client.get(f"/learn/{lesson.course.slug}/lessons/{lesson.slug}/").content.decode()
    assert f'data-reading-url="{url(lesson)}"' in page and 'data-report-seconds="2"' in page  # test settings
    assert client.post(url(lesson), {"seconds": "25"}).status_code == 204
    assert client.post(url(lesson), {"seconds": "17"}).status_code == 204
    assert spent(employee, lesson) == 42
    assert client.post(url(lesson), {"seconds": "100000"}).status_code == 204  # stale or forged: one report's worth
    assert spent(employee, lesson) == 42 + services.MAX_TIME_REPORT_SECONDS == 162
    assert client.post(url(lesson), {"seconds": "-50"}).status_code == 204
    assert spent(employee, lesson) == 162


def test_bad_reports_are_refused_clearly(client, employee, lesson):
    client.force_login(employee)
    response = client.post(url(lesson), {"seconds": "5"})
    assert response.status_code == 409 and "Open the lesson before" in response.content.decode()
    assert not LessonProgress.objects.filter(user=employee).exists()  # a report never creates progress
    services.lesson_visit(user=employee, lesson=lesson)
    response = client.post(url(lesson), {"seconds": "ten"})
    assert response.status_code == 400 and "whole number of seconds" in response.content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans"})
    assert "整数秒" in client.post(url(lesson), {"seconds": "1.5"}).content.decode()
    assert client.get(url(lesson)).status_code == 405
    assert spent(employee, lesson) == 0


def test_a_locked_lesson_takes_no_time(client, employee, lesson):
    locked = Lesson.objects.get(course=lesson.course, slug="m1-l2")
    client.force_login(employee)
    page = client.get(f"/learn/{locked.course.slug}/lessons/{locked.slug}/").content.decode()
    assert "data-reading-url" not in page  # no content shown, nothing measured
    assert client.post(url(locked), {"seconds": "30"}).status_code == 409


def test_only_ones_own_progress_and_only_logged_in_with_csrf(employee, manager, lesson):
    services.lesson_visit(user=employee, lesson=lesson)
    response = Client().post(url(lesson), {"seconds": "30"})
    assert response.status_code == 302 and "/accounts/login/" in response.headers["Location"]

    no_csrf = Client(enforce_csrf_checks=True)
    no_csrf.force_login(employee)
    assert no_csrf.post(url(lesson), {"seconds": "30"}).status_code == 403
    assert spent(employee, lesson) == 0

    with_csrf = Client(enforce_csrf_checks=True)
    with_csrf.force_login(employee)
    with_csrf.get(f"/learn/{lesson.course.slug}/lessons/{lesson.slug}/")
    token = with_csrf.cookies["csrftoken"].value
    assert with_csrf.post(url(lesson), {"seconds": "30", "csrfmiddlewaretoken": token}).status_code == 204
    assert spent(employee, lesson) == 30

    # A manager (who may see the employee's progress) reports only to their own: none yet.
    boss = Client()
    boss.force_login(manager)
    assert boss.post(url(lesson), {"seconds": "30"}).status_code == 409
    assert spent(employee, lesson) == 30

    employee.is_active = False
    employee.save()
    gone = Client()
    gone.force_login(employee)
    assert gone.post(url(lesson), {"seconds": "30"}).status_code == 302  # a deactivated session is logged out
    assert spent(employee, lesson) == 30


def test_a_draft_lesson_is_not_found(client, employee, lesson):
    services.lesson_visit(user=employee, lesson=lesson)
    Lesson.objects.filter(pk=lesson.pk).update(published=False)
    client.force_login(employee)
    assert client.post(url(lesson), {"seconds": "30"}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_tabs_reporting_at_once_add_up(employee):
    course = make_course(lessons=1, quizzes=False)
    lesson = Lesson.objects.get(course=course)
    services.lesson_visit(user=employee, lesson=lesson)
    barrier = threading.Barrier(4)

    def tab():
        try:
            barrier.wait()
            for _ in range(5):
                services.lesson_time_add(user=employee, lesson=lesson, seconds=7)
        finally:
            connection.close()

    threads = [threading.Thread(target=tab) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert spent(employee, lesson) == 4 * 5 * 7


def test_progress_pages_and_dashboards_show_time_read_before_completion(client, employee, manager, lesson):
    services.lesson_visit(user=employee, lesson=lesson)
    services.lesson_time_add(user=employee, lesson=lesson, seconds=100)
    services.lesson_time_add(user=employee, lesson=lesson, seconds=95)
    client.force_login(employee)
    assert "<td>3 min</td>" in client.get("/me/progress/").content.decode()
    assert "Time spent on lessons: 3 min" in client.get("/learn/me/").content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans"})
    assert "课时学习用时：3 分钟" in client.get("/learn/me/").content.decode()
    assert "<td>3 分钟</td>" in client.get("/me/progress/").content.decode()
    client.post("/i18n/setlang/", {"language": "en"})
    team = employee.team
    stats = dashboards.group_stats(teams=[team], filters=Filters(courses=(lesson.course,)), by="user")
    assert stats[employee.pk].time_spent_seconds == 195
    # Completing the lesson keeps the measured time (no more "time since first opened").
    assert services.lesson_complete(user=employee, lesson=lesson).time_spent_seconds == 195
    client.force_login(manager)
    assert "<td>3 min</td>" in client.get(f"/team/people/{employee.pk}/").content.decode()


def test_reading_time_reads_as_people_say_it():
    from courseapp.templatetags.reading_time import reading_time

    assert [reading_time(s) for s in (0, 45, 60, 195, 3599, 3600, 3900)] == [
        "0 s", "45 s", "1 min", "3 min", "59 min", "1 h 00 min", "1 h 05 min"]
