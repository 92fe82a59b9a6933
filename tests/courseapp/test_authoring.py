import pytest

from courseapp.models import Course, Lesson, Module, Question, Quiz

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def author(client, admin_user):
    client.force_login(admin_user)
    return admin_user


def test_author_builds_a_course_and_publishes_it(client, author, employee):
    assert client.get("/learn/author/").status_code == 200
    response = client.post("/learn/author/courses/new/", {"slug": "prompting", "title_en": "Prompting"})
    course = Course.objects.get(slug="prompting")
    assert response.url == f"/learn/author/courses/{course.pk}/" and not course.published
    client.post(f"/learn/author/courses/{course.pk}/", {
        "title_en": "Prompting", "title_zh_hans": "提示词", "summary_en": "How to ask.", "summary_zh_hans": "如何提问。"})
    assert Course.objects.get(pk=course.pk).title == {"en": "Prompting", "zh-Hans": "提示词"}
    client.post(f"/learn/author/courses/{course.pk}/modules/new/", {"module-slug": "basics", "module-title_en": "Basics"})
    module = Module.objects.get(course=course)
    for slug in ("first", "second"):
        client.post(f"/learn/author/modules/{module.pk}/lessons/new/", {"lesson-slug": slug, "lesson-title_en": slug})
    first, second = Lesson.objects.get(slug="first"), Lesson.objects.get(slug="second")
    assert second.prerequisites == ["first"] and not second.published
    response = client.post(f"/learn/author/lessons/{first.pk}/", {
        "title_en": "First", "title_zh_hans": "第一课", "duration_minutes": 7, "prerequisites": "",
        "body_en": "# First\n\nSome $a^2$ maths.\n", "body_zh_hans": "# 第一课\n\n中文。\n"})
    assert response.status_code == 302
    first.refresh_from_db()
    assert 'class="math math-inline">a^2' in first.body_html["en"] and first.duration_minutes == 7
    # Learners see nothing until it is published.
    client.force_login(employee)
    assert client.get("/learn/prompting/").status_code == 404
    client.force_login(author)
    client.post(f"/learn/author/course/{course.pk}/publish/", {"published": "1"})
    client.post(f"/learn/author/lesson/{first.pk}/publish/", {"published": "1"}, **HX)
    client.force_login(employee)
    page = client.get("/learn/prompting/").content.decode()
    assert "First" in page and "second" not in page


def test_lesson_save_rejects_bad_tryit_and_unknown_prerequisite(client, author, builtin_course):
    lesson = builtin_course.lessons.get(slug="03-tokens-embeddings-hidden-states")
    before = lesson.body_html
    response = client.post(f"/learn/author/lessons/{lesson.pk}/", {
        "title_en": "T", "title_zh_hans": "", "duration_minutes": 5, "prerequisites": "no-such-lesson",
        "body_en": "text\n\n```tryit\nlabel: x\nmodel: m\nview: nope\nprompt: p\n```\n", "body_zh_hans": ""})
    page = response.content.decode()
    assert response.status_code == 200 and "no-such-lesson" in page
    response = client.post(f"/learn/author/lessons/{lesson.pk}/", {
        "title_en": "T", "title_zh_hans": "", "duration_minutes": 5, "prerequisites": "01-why-llms",
        "body_en": "text\n\n```tryit\nlabel: x\nmodel: m\nview: nope\nprompt: p\n```\n", "body_zh_hans": ""})
    assert "line 4" in response.content.decode() and "try-it view" in response.content.decode()
    lesson.refresh_from_db()
    assert lesson.body_html == before


def test_live_preview_returns_sanitised_html(client, author):
    response = client.post("/learn/author/preview/", {"field": "body_zh_hans", "body_zh_hans": "**粗体** $x$"}, **HX)
    assert response.content.decode().strip() == '<p><strong>粗体</strong> <span class="math math-inline">x</span></p>'
    bad = client.post("/learn/author/preview/", {"field": "prompt_en", "prompt_en": "```tryit\nlabel: [\n```\n"})
    assert "Line 2" in bad.content.decode()


def test_reorder_with_up_and_down(client, author, builtin_course):
    order = lambda: list(Lesson.objects.filter(module__slug="foundations").order_by("position").values_list("slug", flat=True))  # noqa: E731
    assert order() == ["01-why-llms", "03-tokens-embeddings-hidden-states", "02-transformer-attention"]
    third = Lesson.objects.get(slug="02-transformer-attention")
    response = client.post(f"/learn/author/lesson/{third.pk}/move/up/", **HX)
    assert response.status_code == 200 and 'id="course-tree"' in response.content.decode()
    assert order() == ["01-why-llms", "02-transformer-attention", "03-tokens-embeddings-hidden-states"]
    client.post(f"/learn/author/lesson/{third.pk}/move/up/")
    client.post(f"/learn/author/lesson/{third.pk}/move/up/")  # already first: stays
    assert order()[0] == "02-transformer-attention"
    module = Module.objects.get(slug="using-llms")
    client.post(f"/learn/author/module/{module.pk}/move/up/")
    assert list(Module.objects.order_by("position").values_list("slug", flat=True)) == [
        "foundations", "using-llms", "training-and-evaluation", "beyond-the-basics"]


def test_question_editing_and_unpublishing(client, author, builtin_course):
    quiz = Quiz.objects.get(slug="01-why-llms-quiz")
    client.post(f"/learn/author/quizzes/{quiz.pk}/questions/new/", {"slug": "new-q", "type": "multiple"})
    question = Question.objects.get(quiz=quiz, slug="new-q")
    data = {"prompt_en": "Pick **two**", "prompt_zh_hans": "选两个", "explanation_en": "Because.",
            "explanation_zh_hans": "因为。", "points": 2,
            "choice0_text_en": "A", "choice0_explanation_en": "A ok", "choice0_correct": "on",
            "choice1_text_en": "B", "choice1_explanation_en": "B no",
            "choice2_text_en": "C", "choice2_explanation_en": "C ok", "choice2_correct": "on"}
    assert client.post(f"/learn/author/questions/{question.pk}/", data).status_code == 302
    question.refresh_from_db()
    assert [c.correct for c in question.choices.all()] == [True, False, True] and question.points == 2
    assert "<strong>two</strong>" in question.prompt_html["en"]
    data.pop("choice0_correct"), data.pop("choice2_correct")
    response = client.post(f"/learn/author/questions/{question.pk}/", data)
    assert response.status_code == 200 and "Mark at least one choice correct" in response.content.decode()
    response = client.post(f"/learn/author/question/{question.pk}/publish/", {"published": "0"}, **HX)
    assert 'id="question-list"' in response.content.decode()
    assert not Question.objects.get(pk=question.pk).published
