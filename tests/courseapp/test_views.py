import re

import pytest
from django.urls import reverse

from courseapp import authoring, services
from courseapp.models import Attempt, AttemptStatus, Certificate, Choice, Course, Lesson, LessonProgress, Quiz
from tests.courseapp.factories import make_course
from tests.courseapp.helpers import response_for, responses, unlock

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def learner(client, employee):
    client.force_login(employee)
    return employee


def test_catalog_lists_published_courses_only(client, learner, builtin_course):
    make_course(slug="hidden-draft", published=False)
    page = client.get(reverse("courseapp:catalog")).content.decode()
    assert "How LLMs work" in page and "hidden-draft" not in page
    assert client.get("/learn/hidden-draft/").status_code == 404


def test_lesson_renders_in_both_languages(client, learner, builtin_course):
    for done in ("01-why-llms", "03-tokens-embeddings-hidden-states"):  # attention comes after tokens
        services.lesson_complete(user=learner, lesson=builtin_course.lessons.get(slug=done))
    url = "/learn/how-llms-work/lessons/02-transformer-attention/"
    page = client.get(url).content.decode()
    assert "<h1>The Transformer and self-attention" in page
    assert 'class="math math-display"' in page and 'class="language-python"' in page
    assert "/playground/attention/embed/?model=smollm2-135m-instruct&amp;text=" in page
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": url})
    page = client.get(url).content.decode()
    assert "Transformer 与自注意力" in page and "查询、键和值" in page and "标记为完成" in page
    assert '<html lang="zh-hans">' in page


def test_locked_lesson_explains_why(client, learner):
    course = make_course(lessons=2, quizzes=False)
    page = client.get(f"/learn/{course.slug}/lessons/m1-l2/").content.decode()
    assert "Locked" in page and "Lesson m1-l1" in page and "Mark complete" not in page
    assert "English body" not in page
    # The lock is our own icon: an emoji shows as an empty box where no emoji font is installed.
    assert 'class="icon icon-lock"' in page and "\U0001f512" not in page
    response = client.post(f"/learn/{course.slug}/lessons/m1-l2/complete/")
    assert response.status_code == 302 and not LessonProgress.objects.filter(completed_at__isnull=False).exists()


def test_locked_items_are_refused_with_the_services_message_in_the_page_language(client, learner):
    course = make_course(lessons=2)
    lesson_url, quiz_url = f"/learn/{course.slug}/lessons/m1-l2/", f"/learn/{course.slug}/quizzes/m1-l1-quiz/"
    page = client.post(f"{lesson_url}complete/", follow=True).content.decode()
    assert "This lesson is locked." in page
    assert "This quiz is locked." in client.post(f"{quiz_url}start/", follow=True).content.decode()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": lesson_url})
    assert "该课时尚未解锁。" in client.post(f"{lesson_url}complete/", follow=True).content.decode()
    assert "该测验尚未解锁。" in client.post(f"{quiz_url}start/", follow=True).content.decode()
    assert not Attempt.objects.exists() and not LessonProgress.objects.filter(completed_at__isnull=False).exists()


def test_mark_complete_moves_on_and_resume_follows(client, learner):
    course = make_course(lessons=2, quizzes=False)
    client.get(f"/learn/{course.slug}/lessons/m1-l1/")
    assert client.get(f"/learn/{course.slug}/resume/").url == f"/learn/{course.slug}/lessons/m1-l1/"
    response = client.post(f"/learn/{course.slug}/lessons/m1-l1/complete/")
    assert response.url == f"/learn/{course.slug}/lessons/m1-l2/"
    assert client.get(f"/learn/{course.slug}/resume/").url == f"/learn/{course.slug}/lessons/m1-l2/"
    page = client.get("/learn/me/").content.decode()
    assert "1 of 2 done (50%)" in page and f"/learn/{course.slug}/lessons/m1-l2/" in page


def test_attempt_page_never_reveals_answers(client, learner):
    course = make_course(lessons=1)
    services.lesson_complete(user=learner, lesson=course.lessons.get())
    quiz = Quiz.objects.get(course=course)
    response = client.post(f"/learn/{course.slug}/quizzes/{quiz.slug}/start/")
    attempt = Attempt.objects.get(user=learner)
    assert response.url == f"/learn/attempts/{attempt.pk}/"
    page = client.get(response.url).content.decode()
    for choice in Choice.objects.filter(question__quiz=quiz):
        assert f'value="{choice.pk}"' not in page
        assert choice.explanation["en"] not in page
    assert "softmax" not in page.lower() and "is-correct" not in page and 'value="64"' not in page
    for pairs in attempt.choice_keys.values():
        for key, _cid in pairs:
            assert f'value="{key}"' in page


def test_htmx_check_shows_feedback_with_every_explanation(client, learner):
    course = make_course(lessons=1)
    services.lesson_complete(user=learner, lesson=course.lessons.get())
    attempt = services.attempt_start(user=learner, quiz=Quiz.objects.get(course=course))
    single = next(q for q in attempt.question_ids if str(q) in attempt.choice_keys)
    wrong = response_for(attempt, single, right=False)
    response = client.post(f"/learn/attempts/{attempt.pk}/questions/{single}/check/", {f"q-{single}": wrong}, **HX)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Wrong" in page and "Your answer — wrong" in page
    for choice in Choice.objects.filter(question_id=single):
        assert choice.explanation["en"] in page
    again = client.post(f"/learn/attempts/{attempt.pk}/questions/{single}/check/", {f"q-{single}": wrong}, **HX)
    assert again.status_code == 422 and "already been answered" in again.content.decode()
    assert again.headers["HX-Retarget"] == f"#q-errors-{single}"


def test_htmx_submit_scores_and_review_is_available(client, learner):
    course = make_course(lessons=1)
    services.lesson_complete(user=learner, lesson=course.lessons.get())
    attempt = services.attempt_start(user=learner, quiz=Quiz.objects.get(course=course))
    data = {f"q-{qid}": values for qid, values in responses(attempt).items()}
    response = client.post(f"/learn/attempts/{attempt.pk}/submit/", data, **HX)
    page = response.content.decode()
    assert response.status_code == 200 and "Passed" in page and "100%" in page
    assert Attempt.objects.get(pk=attempt.pk).status == AttemptStatus.SUBMITTED
    review = client.get(f"/learn/attempts/{attempt.pk}/").content.decode()
    assert "Review" in review and "Your answer — correct" in review
    again = client.post(f"/learn/attempts/{attempt.pk}/submit/", data, **HX)
    assert again.status_code == 409 and "already been submitted" in again.content.decode()
    # Without HTMX the form falls back to a redirect and a message.
    plain = client.post(f"/learn/attempts/{attempt.pk}/submit/", data)
    assert plain.status_code == 302


def test_tampered_submit_gets_a_clear_error(client, learner):
    course = make_course(lessons=1)
    services.lesson_complete(user=learner, lesson=course.lessons.get())
    attempt = services.attempt_start(user=learner, quiz=Quiz.objects.get(course=course))
    data = {f"q-{qid}": values for qid, values in responses(attempt).items()}
    single = next(q for q in attempt.question_ids if str(q) in attempt.choice_keys)
    data[f"q-{single}"] = ["999999"]
    response = client.post(f"/learn/attempts/{attempt.pk}/submit/", data, **HX)
    assert response.status_code == 422 and "not part of this attempt" in response.content.decode()
    assert Attempt.objects.get(pk=attempt.pk).status == AttemptStatus.IN_PROGRESS


def test_other_users_attempt_is_404(client, learner, manager):
    course = make_course(lessons=1)
    unlock(manager, Quiz.objects.get(course=course))
    attempt = services.attempt_start(user=manager, quiz=Quiz.objects.get(course=course))
    assert client.get(f"/learn/attempts/{attempt.pk}/").status_code == 404


def test_certificate_is_public_by_code(client, learner):
    course = make_course(lessons=1, quizzes=False)
    services.lesson_complete(user=learner, lesson=course.lessons.get())
    certificate = Certificate.objects.get(user=learner)
    client.logout()
    page = client.get(f"/learn/certificates/{certificate.code}/").content.decode()
    assert learner.display_name in page and course.title["en"] in page
    assert client.get("/learn/certificates/not-a-code/").status_code == 404
    assert client.get(f"/learn/{course.slug}/").status_code == 302  # everything else needs a login


def test_employees_cannot_open_authoring(client, learner, builtin_course):
    assert client.get("/learn/author/").status_code == 403
    lesson = builtin_course.lessons.first()
    assert client.post(f"/learn/author/lesson/{lesson.pk}/publish/", {"published": "0"}).status_code == 403
    assert client.post("/learn/author/preview/", {"field": "body_en", "body_en": "x"}).status_code == 403


def test_admin_preview_sees_drafts(client, admin_user):
    client.force_login(admin_user)
    course = make_course(published=False, lessons=1, quizzes=False)
    Lesson.objects.update(published=False)
    page = client.get(f"/learn/{course.slug}/lessons/m1-l1/").content.decode()
    assert "Draft" in page and "English body" in page


# --- XSS ----------------------------------------------------------------------------

EVIL = ('Hello <script>alert("x")</script> <img src="x" onerror="alert(1)"> '
        '<a href="javascript:alert(2)" onclick="alert(3)">link</a> <svg onload="alert(4)"></svg> '
        '<iframe src="https://evil.example"></iframe> <style>body{display:none}</style>')


def _assert_inert(html: str):
    assert "<script" not in html and "<iframe" not in html and "<svg" not in html and "<style" not in html
    assert not re.search(r"<[a-z][^>]*\son\w+\s*=", html), "no event-handler attribute survives"
    assert not re.search(r"<[a-z][^>]*javascript:", html)


def test_script_in_a_lesson_renders_inert(client, admin_user, employee):
    course = make_course(lessons=1, quizzes=False, body=f"# T\n\n{EVIL}\n\n$x$ and `<script>code</script>`\n")
    lesson = course.lessons.get()
    assert "<script" not in lesson.body_html["en"]
    client.force_login(employee)
    page = client.get(f"/learn/{course.slug}/lessons/{lesson.slug}/").content.decode()
    body = page.split('<div class="lesson-body prose">')[1].split("</div>")[0]
    _assert_inert(body.replace("&lt;script&gt;code&lt;/script&gt;", ""))
    assert "&lt;script&gt;code&lt;/script&gt;" in body  # shown as code, not run
    # An author editing in the page gets the same sanitising, in preview and on save.
    client.force_login(admin_user)
    preview = client.post("/learn/author/preview/", {"field": "body_en", "body_en": EVIL}).content.decode()
    _assert_inert(preview)
    response = client.post(f"/learn/author/lessons/{lesson.pk}/", {
        "title_en": "T", "title_zh_hans": "", "duration_minutes": 5, "prerequisites": "",
        "body_en": EVIL, "body_zh_hans": EVIL})
    assert response.status_code == 302
    lesson.refresh_from_db()
    _assert_inert(lesson.body_html["en"]) and _assert_inert(lesson.body_html["zh-Hans"])


def test_script_in_a_question_renders_inert(client, employee):
    course = make_course(lessons=1)
    quiz = Quiz.objects.get(course=course)
    question = quiz.questions.get(type="single")
    authoring.question_update(
        question=question, prompt={"en": EVIL, "zh-Hans": EVIL}, explanation={"en": EVIL, "zh-Hans": EVIL}, points=1,
        choices=[{"text": {"en": '<img src=x onerror="alert(5)">', "zh-Hans": ""}, "correct": True,
                  "explanation": {"en": "<script>alert(6)</script>", "zh-Hans": ""}},
                 {"text": {"en": "B", "zh-Hans": ""}, "correct": False, "explanation": {"en": "b", "zh-Hans": ""}}])
    services.lesson_complete(user=employee, lesson=course.lessons.get())
    client.force_login(employee)
    attempt = services.attempt_start(user=employee, quiz=quiz)
    while question.pk not in attempt.question_ids:  # make sure it was drawn
        attempt = Attempt.objects.get(pk=attempt.pk)
        attempt.question_ids = [question.pk] + attempt.question_ids[1:]
        attempt.choice_keys[str(question.pk)] = [["k1", question.choices.all()[0].pk],
                                                 ["k2", question.choices.all()[1].pk]]
        attempt.save()
    page = client.get(f"/learn/attempts/{attempt.pk}/").content.decode()
    checked = client.post(f"/learn/attempts/{attempt.pk}/questions/{question.pk}/check/",
                          {f"q-{question.pk}": [attempt.choice_keys[str(question.pk)][0][0]]}, **HX).content.decode()
    for html in (page.split('<main id="main"')[1], checked):
        # Choice text is escaped by the template; Markdown fields are sanitised.
        assert "&lt;img src=x onerror=" in html
        _assert_inert(html)
    assert "&lt;script&gt;alert(6)&lt;/script&gt;" in checked  # the choice explanation, as text


# --- Query counts -----------------------------------------------------------------


@pytest.mark.parametrize("url_name", ["course", "lesson", "my_learning"])
def test_queries_do_not_grow_with_course_size(client, employee, django_assert_max_num_queries, url_name):
    client.force_login(employee)
    counts = []
    for modules, lessons in ((1, 2), (4, 6)):
        course = make_course(modules=modules, lessons=lessons, exam=True)
        first = Lesson.objects.filter(course=course).order_by("module__position", "position").first()
        services.lesson_complete(user=employee, lesson=first)
        for quiz in Quiz.objects.filter(course=course)[:2]:
            unlock(employee, quiz)
            attempt = services.attempt_start(user=employee, quiz=quiz)
            services.attempt_submit(user=employee, attempt_id=attempt.pk, responses=responses(attempt))
        url = {"course": f"/learn/{course.slug}/", "lesson": f"/learn/{course.slug}/lessons/{first.slug}/",
               "my_learning": "/learn/me/"}[url_name]
        if url_name == "my_learning":
            Course.objects.exclude(pk=course.pk).delete()
        client.get(url)  # warm up: session, enrollment rows
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(20):
        client.get(url)


def test_an_admin_previews_a_locked_lesson_and_is_told_what_locks_it_for_learners(client, admin_user):
    course = make_course(lessons=2, quizzes=False)
    client.force_login(admin_user)
    page = client.get(f"/learn/{course.slug}/lessons/m1-l2/").content.decode()
    assert "English body" in page and "Mark complete" in page
    assert "Admin preview." in page and "Learners see this locked until they finish" in page
    assert f'<a href="/learn/{course.slug}/lessons/m1-l1/">Lesson m1-l1</a>' in page
    # Once the admin has done the prerequisite too, nothing is said.
    client.post(f"/learn/{course.slug}/lessons/m1-l1/complete/")
    assert "Admin preview." not in client.get(f"/learn/{course.slug}/lessons/m1-l2/").content.decode()


def test_a_course_change_shows_on_the_next_request_although_its_row_is_cached(client, employee):
    """Production keeps the course row in the shared cache (COURSE_ROW_CACHE_SECONDS); a
    save, a content edit or a delete through the site must still show at once."""
    course = make_course(lessons=2, quizzes=False)
    client.force_login(employee)
    lesson_url = f"/learn/{course.slug}/lessons/m1-l1/"
    assert client.get(lesson_url).status_code == 200  # the row is cached now (in production)
    lesson = Lesson.objects.get(course=course, slug="m1-l1")
    lesson.title = {"en": "Renamed lesson", "zh-Hans": "改名的课"}
    lesson.save()
    assert "Renamed lesson" in client.get(lesson_url).content.decode()
    course.published = False
    course.save()
    assert client.get(lesson_url).status_code == 404
    course.published = True
    course.save()
    assert client.get(lesson_url).status_code == 200
    course.delete()
    assert client.get(lesson_url).status_code == 404
