"""The lesson page reads course content from Django's cache (Redis in production, memory in
the embedded default) and caches the outline's HTML. An author's edit must show on the
next request, and nothing one user sees may reach another."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from courseapp import authoring, services
from courseapp.models import Course, LessonProgress
from tests.courseapp.factories import make_course, text
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def outline_titles(page: str) -> list[str]:
    return re.findall(r'<span class="item-title">([^<]*)</span>', page)


def test_an_edit_publish_or_move_shows_on_the_next_request(employee):
    course = make_course(lessons=3, quizzes=False)
    first, second, third = course.lessons.order_by("position")
    services.lesson_complete(user=employee, lesson=first)
    learner, url = client_for(employee), first.get_absolute_url()
    page = learner.get(url).content.decode()
    assert "English body" in page and outline_titles(page) == ["Lesson m1-l1", "Lesson m1-l2", "Lesson m1-l3"]
    assert outline_titles(learner.get(url).content.decode()) == outline_titles(page)  # now from the cache

    authoring.lesson_update(lesson=first, title=text("Renamed first"), body=text("# Renamed\n\nFresh words."),
                           duration_minutes=7, prerequisites=[])
    page = learner.get(url).content.decode()
    assert "Fresh words" in page and "English body" not in page
    assert outline_titles(page)[0] == "Renamed first"

    authoring.item_set_published(obj=third, published=False)
    assert "Lesson m1-l3" not in learner.get(url).content.decode()
    assert learner.get(third.get_absolute_url()).status_code == 404
    authoring.item_set_published(obj=third, published=True)
    assert "Lesson m1-l3" in learner.get(url).content.decode()

    authoring.item_move(obj=third, direction="up")  # a queryset update, no post_save
    assert outline_titles(learner.get(url).content.decode()) == ["Renamed first", "Lesson m1-l3", "Lesson m1-l2"]

    updated = Course.objects.get(pk=course.pk).updated_at
    second.delete()
    assert Course.objects.get(pk=course.pk).updated_at > updated
    assert "Lesson m1-l2" not in learner.get(url).content.decode()


def test_each_user_sees_only_their_own_progress_name_and_drafts(team, admin_user):
    course = make_course(lessons=2, quizzes=True)
    first, second = course.lessons.order_by("position")
    ann, bob = make_user(Role.EMPLOYEE, team=team), make_user(Role.EMPLOYEE, team=team)
    services.lesson_complete(user=ann, lesson=first)
    url = first.get_absolute_url()
    ann_client, bob_client = client_for(ann), client_for(bob)

    ann_page = ann_client.get(url).content.decode()
    bob_page = bob_client.get(url).content.decode()
    assert "You completed this lesson." in ann_page and "1 of 4 done" in ann_page and ann.display_name in ann_page
    assert "Mark complete" in bob_page and "0 of 4 done" in bob_page
    assert "You completed this lesson." not in bob_page and ann.display_name not in bob_page
    assert bob_page.count("is-done") == 0 and ann_page.count("is-done") == 1

    bob_client.post(f"{url}complete/")
    bob_page = bob_client.get(url).content.decode()
    assert "You completed this lesson." in bob_page and "1 of 4 done" in bob_page and bob.display_name in bob_page
    assert ann_client.get(url).content.decode().count("is-done") == 1

    authoring.item_set_published(obj=second, published=False)
    admin_page = client_for(admin_user).get(url).content.decode()
    assert "Lesson m1-l2" in admin_page and "Draft" in admin_page
    ann_page = ann_client.get(url).content.decode()
    assert "Lesson m1-l2" not in ann_page and "Draft" not in ann_page


def test_a_reload_reads_little_and_writes_nothing_until_the_visit_resolution_passes(employee):
    course = make_course(lessons=2, quizzes=True, exam=True)
    first = course.lessons.order_by("position").first()
    learner, url = client_for(employee), first.get_absolute_url()
    learner.get(url)  # the first visit records progress and the resume point
    with CaptureQueriesContext(connection) as reload:
        assert learner.get(url).status_code == 200
    sql = [q["sql"] for q in reload.captured_queries]
    assert not [s for s in sql if s.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))], sql
    # session, user, course, and one UNION for the user's progress, attempts and enrollment
    assert len(sql) <= 4, sql

    seen = LessonProgress.objects.get(user=employee, lesson=first).last_viewed_at
    LessonProgress.objects.filter(lesson=first).update(last_viewed_at=seen - services.VISIT_RESOLUTION)
    learner.get(url)
    assert LessonProgress.objects.get(user=employee, lesson=first).last_viewed_at > seen
