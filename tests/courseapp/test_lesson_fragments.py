"""The lesson page's cached parts (templates/courseapp/lesson.html: two {% cache %}
fragments keyed by Outline.fragment_key and the language) are shared between learners
whose outlines are in the same state, and nothing else is: each page keeps its own name,
CSRF token, progress and language."""

import re

import pytest
from django.test import Client

from courseapp import services
from courseapp.models import Lesson, LessonProgress
from tests.courseapp.factories import make_course
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def _csrf_client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _form_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_two_learners_in_the_same_state_share_the_cached_parts_but_not_their_own():
    course = make_course(lessons=2, quizzes=False)
    ada, bob = make_user(), make_user()
    url = f"/learn/{course.slug}/lessons/m1-l1/"
    ada_client, bob_client = _csrf_client(ada), _csrf_client(bob)
    ada_page, bob_page = ada_client.get(url).content.decode(), bob_client.get(url).content.decode()
    assert ada.display_name in ada_page and bob.display_name not in ada_page
    assert bob.display_name in bob_page and ada.display_name not in bob_page
    # The same lesson body and outline, from one cached fragment...
    body = re.search(r'<div class="lesson-body prose">.*?</div>', ada_page, re.S).group(0)
    assert body in bob_page
    # ...but each form carries its own user's token: Bob's is refused for Ada.
    assert ada_client.post(f"{url}complete/", {"csrfmiddlewaretoken": _form_token(bob_page)}).status_code == 403
    assert not LessonProgress.objects.filter(completed_at__isnull=False).exists()
    assert ada_client.post(f"{url}complete/", {"csrfmiddlewaretoken": _form_token(ada_page)}).status_code == 302


def test_one_learners_progress_changes_their_page_at_once_and_not_the_others():
    course = make_course(lessons=2, quizzes=False)
    ada, bob = make_user(), make_user()
    first, second = (f"/learn/{course.slug}/lessons/m1-l{n}/" for n in (1, 2))
    ada_client, bob_client = _csrf_client(ada), _csrf_client(bob)
    for client in (ada_client, bob_client):
        assert "Mark complete" in client.get(first).content.decode()
        assert "Locked" in client.get(second).content.decode()
    services.lesson_complete(user=ada, lesson=Lesson.objects.get(course=course, slug="m1-l1"))
    ada_first, bob_first = ada_client.get(first).content.decode(), bob_client.get(first).content.decode()
    assert "You completed this lesson." in ada_first and "1 of 2 done" in ada_first
    assert "Mark complete" in bob_first and "0 of 2 done" in bob_first
    assert "Locked" not in ada_client.get(second).content.decode()
    assert "Locked" in bob_client.get(second).content.decode()


def test_the_cached_parts_follow_the_language_and_a_content_edit():
    course = make_course(lessons=1, quizzes=False)
    client = _csrf_client(make_user())
    url = f"/learn/{course.slug}/lessons/m1-l1/"
    english = client.get(url).content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": url},
                HTTP_X_CSRFTOKEN=_form_token(english))
    chinese = client.get(url).content.decode()
    assert '<html lang="zh-hans">' in chinese and 'lang="zh-Hans"' in chinese and "标记为完成" in chinese
    assert "English body" in english and "English body" not in chinese
    lesson = Lesson.objects.get(course=course, slug="m1-l1")
    lesson.title = {"en": "Renamed lesson", "zh-Hans": "改名的课"}
    lesson.save()
    assert "改名的课" in client.get(url).content.decode()
