"""The built-in course's quizzes measure: guessing every choice earns nothing, and a retake
draws fresh questions. Read through the course reader, as `course_import` reads them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings

from courseapp.course_format.reader import read_course_folder
from courseapp.scoring import multiple_score, score

COURSE = Path(settings.BASE_DIR) / "courseapp/content/how-llms-work"


@pytest.fixture(scope="module")
def quizzes():
    course = read_course_folder(COURSE)
    lesson_quizzes = [lesson.quiz for module in course.modules for lesson in module.lessons if lesson.quiz]
    return lesson_quizzes + list(course.exams)


@pytest.mark.parametrize(("ticked", "expected"), [
    ({1, 2, 3, 4}, 0.0),   # everything: the whole right share less the whole wrong share
    (set(), 0.0),
    ({1, 2, 3}, 1.0),      # exactly the correct ones
    ({1, 2}, 2 / 3),
    ({1, 2, 3, 4}, 0.0),
    ({1, 4}, 0.0),         # one right, the one wrong: 1/3 - 1, floored
])
def test_multiple_score_three_of_four(ticked, expected):
    assert multiple_score(ticked=ticked, correct={1, 2, 3}, choices=4) == pytest.approx(expected)


def test_multiple_score_two_of_four_wrong_ticks_cancel_right_ones():
    assert multiple_score(ticked={1, 3}, correct={1, 2}, choices=4) == pytest.approx(0.0)
    assert multiple_score(ticked={1}, correct={1, 2}, choices=4) == pytest.approx(0.5)
    assert multiple_score(ticked={1, 2, 3}, correct={1, 2}, choices=4) == pytest.approx(0.5)


def test_no_multiple_answer_question_passes_by_ticking_every_choice(quizzes):
    checked = 0
    for quiz in quizzes:
        for question in quiz.questions:
            if question.type != "multiple":
                continue
            correct = {i for i, choice in enumerate(question.choices) if choice.correct}
            every = set(range(len(question.choices)))
            assert len(correct) < len(every), f"{quiz.slug}/{question.slug}: every choice is correct"
            keys = {f"k{i}": i for i in every}  # an attempt's choice keys, every one sent
            fraction = score(SimpleNamespace(type="multiple"), list(keys), keys, correct)
            assert 100 * fraction < quiz.pass_mark, f"{quiz.slug}/{question.slug}: ticking everything scores {fraction:.0%}"
            checked += 1
    assert checked >= 20


def test_every_quiz_pool_holds_twice_what_an_attempt_draws(quizzes):
    small = [f"{quiz.slug}: {len(quiz.questions)} questions for {quiz.questions_per_attempt} drawn"
             for quiz in quizzes if len(quiz.questions) < 2 * quiz.questions_per_attempt]
    assert small == []
