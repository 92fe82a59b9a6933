"""The dashboards cost a fixed number of queries, whatever the number of people
(Open edX's grade reports were slow from one query per learner)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from courseapp.models import Lesson
from tests.dashboards.factories import assign, attempt, make_team, make_user, progress, run

pytestmark = pytest.mark.django_db


def add_people(team, n, lessons):
    for _ in range(n):
        person = make_user(Role.EMPLOYEE, team=team)
        for lesson in lessons:
            progress(person, lesson)
            attempt(person, lesson.quiz, score=70)
        run(person)


def count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_team_page_overview_matrix_and_person_do_not_grow_with_people(client, course):
    lessons = list(Lesson.objects.filter(course=course))
    team = make_team()
    manager = make_user(Role.MANAGER, team=team)
    admin = make_user(Role.ADMIN)
    assign(manager, course, dt.date(2000, 1, 1), team=team)  # everyone overdue
    add_people(team, 2, lessons)
    urls = [reverse("dashboards:team", args=[team.pk]), reverse("dashboards:overview"),
            reverse("dashboards:team_matrix", args=[team.pk])]

    client.force_login(manager)
    small = [count(client, url) for url in urls]
    client.force_login(admin)
    small_admin = count(client, reverse("dashboards:overview"))

    add_people(team, 10, lessons)
    add_people(make_team(), 5, lessons)  # more teams for the admin too
    client.force_login(manager)
    large = [count(client, url) for url in urls]
    client.force_login(admin)
    large_admin = count(client, reverse("dashboards:overview"))

    assert small == large, (small, large)
    assert small_admin == large_admin
    assert max(large) <= 25


def test_export_streams_in_a_fixed_number_of_queries(client, course):
    lessons = list(Lesson.objects.filter(course=course))
    team = make_team()
    manager = make_user(Role.MANAGER, team=team)
    client.force_login(manager)
    add_people(team, 2, lessons)

    def export_queries(kind):
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(reverse("dashboards:export"), {"kind": kind, "team": team.pk})
            b"".join(response.streaming_content)
        return len(ctx.captured_queries)

    small = [export_queries("matrix"), export_queries("attempts")]
    add_people(team, 8, lessons)
    assert [export_queries("matrix"), export_queries("attempts")] == small
