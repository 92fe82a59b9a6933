"""Pinned quiz questions: drawn into every attempt, read and written by the course
format, refused when they outnumber an attempt's draw, set by authors."""

import pytest
from django.core.exceptions import ValidationError

from courseapp import authoring, services
from courseapp.course_format.reader import read_course_folder
from courseapp.course_format.spec import FolderError
from courseapp.models import Attempt, Question, Quiz
from tests.courseapp.factories import choice_question, course_spec, make_course, quiz_spec, write_spec

pytestmark = pytest.mark.django_db


def pinned_spec(*, pool: int = 8, pinned: tuple[int, ...] = (2, 6), per_attempt: int = 3) -> dict:
    spec = course_spec(lessons=1)
    questions = [choice_question(f"q{i}") for i in range(pool)]
    for i in pinned:
        questions[i]["pinned"] = True
    spec["modules"][0]["lessons"][0]["quiz"] = quiz_spec("pq", questions=questions, per_attempt=per_attempt,
                                                         max_attempts=0)
    return spec


def test_every_attempt_draws_the_pinned_questions_and_random_others(employee):
    make_course(spec=pinned_spec())
    quiz = Quiz.objects.get(slug="pq")
    pinned = set(Question.objects.filter(quiz=quiz, pinned=True).values_list("pk", flat=True))
    assert {q.slug for q in Question.objects.filter(pk__in=pinned)} == {"q2", "q6"}
    others_seen, firsts = set(), set()
    for _ in range(30):
        attempt = services.attempt_start(user=employee, quiz=quiz)
        assert len(attempt.question_ids) == 3 == len(set(attempt.question_ids))
        assert pinned <= set(attempt.question_ids)
        others_seen |= set(attempt.question_ids) - pinned
        firsts.add(attempt.question_ids[0])
        Attempt.objects.filter(pk=attempt.pk).delete()
    # The third question is still drawn at random from the unpinned six, and the order is shuffled.
    assert len(others_seen) >= 4 and not others_seen & pinned
    assert len(firsts) >= 2


def test_unpublished_pinned_questions_are_not_drawn(employee):
    make_course(spec=pinned_spec())
    quiz = Quiz.objects.get(slug="pq")
    Question.objects.filter(quiz=quiz, slug="q6").update(published=False)
    attempt = services.attempt_start(user=employee, quiz=quiz)
    assert Question.objects.get(quiz=quiz, slug="q6").pk not in attempt.question_ids
    assert Question.objects.get(quiz=quiz, slug="q2").pk in attempt.question_ids


def test_course_format_reads_and_writes_pinned(tmp_path):
    spec = pinned_spec()
    write_spec(spec, tmp_path / "c")
    text = (tmp_path / "c/lessons/m1-l1/quiz.yaml").read_text()
    assert text.count("pinned: true") == 2 and "pinned: false" not in text  # optional key, written when set
    read = read_course_folder(tmp_path / "c")
    questions = read.modules[0].lessons[0].quiz.questions
    assert [q.slug for q in questions if q.pinned] == ["q2", "q6"]
    course = make_course(spec=spec)
    authoring.course_export(course=course, folder=tmp_path / "again")
    assert (tmp_path / "again/lessons/m1-l1/quiz.yaml").read_text() == text


def test_reader_refuses_more_pinned_questions_than_an_attempt_draws(tmp_path):
    spec = pinned_spec(pinned=(0, 1, 2, 3), per_attempt=3)
    write_spec(spec, tmp_path / "c")
    with pytest.raises(FolderError) as exc:
        read_course_folder(tmp_path / "c")
    [error] = exc.value.errors
    assert error.startswith("c/lessons/m1-l1/quiz.yaml:7:")  # the questions_per_attempt line
    assert "4 questions are pinned (q0, q1, q2, q3) but an attempt draws only 3" in error


def test_reader_refuses_a_pinned_value_that_is_not_a_boolean(tmp_path):
    spec = pinned_spec()
    write_spec(spec, tmp_path / "c")
    path = tmp_path / "c/lessons/m1-l1/quiz.yaml"
    path.write_text(path.read_text().replace("pinned: true", "pinned: sometimes", 1))
    with pytest.raises(FolderError) as exc:
        read_course_folder(tmp_path / "c")
    assert any("'pinned'" in e for e in exc.value.errors)


def test_author_pins_a_question_within_the_attempt_size(client, admin_user):
    make_course(spec=pinned_spec(pinned=(0, 1), per_attempt=3))
    client.force_login(admin_user)
    quiz = Quiz.objects.get(slug="pq")
    data = {"prompt_en": "Which?", "prompt_zh_hans": "哪个？", "explanation_en": "Because.",
            "explanation_zh_hans": "因为。", "points": 1, "pinned": "on",
            "choice0_text_en": "A", "choice0_explanation_en": "A ok", "choice0_correct": "on",
            "choice1_text_en": "B", "choice1_explanation_en": "B no"}
    third, fourth = Question.objects.get(quiz=quiz, slug="q2"), Question.objects.get(quiz=quiz, slug="q3")
    assert client.post(f"/learn/author/questions/{third.pk}/", data).status_code == 302
    assert Question.objects.get(pk=third.pk).pinned
    response = client.post(f"/learn/author/questions/{fourth.pk}/", data)
    assert response.status_code == 200
    assert "3 are pinned already" in response.content.decode()
    assert not Question.objects.get(pk=fourth.pk).pinned
    # Nor may the quiz then draw fewer questions than are pinned.
    with pytest.raises(ValidationError, match="3 questions are pinned"):
        authoring.quiz_update(quiz=quiz, title=quiz.title, pass_mark=70, max_attempts=0, questions_per_attempt=2,
                             prerequisites=[])
    # Unpinning works at any time.
    data.pop("pinned")
    assert client.post(f"/learn/author/questions/{third.pk}/", data).status_code == 302
    assert not Question.objects.get(pk=third.pk).pinned


def test_admin_lists_and_filters_pinned_questions(client, admin_user):
    make_course(spec=pinned_spec())
    client.force_login(admin_user)
    page = client.get("/admin/courseapp/question/?pinned__exact=1")
    assert page.status_code == 200
    html = page.content.decode()
    assert ">q2<" in html and ">q6<" in html and ">q3<" not in html
    question = Question.objects.get(slug="q3")
    assert 'name="pinned"' in client.get(f"/admin/courseapp/question/{question.pk}/change/").content.decode()
