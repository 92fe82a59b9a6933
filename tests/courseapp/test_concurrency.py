"""Two submissions of one attempt at the same moment, from two threads with their
own database connections (real transactions on SQLite or PostgreSQL): exactly one
counts, the other gets a clear error."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from courseapp import services
from courseapp.models import Attempt, AttemptStatus, Quiz
from tests.courseapp.factories import make_course
from tests.courseapp.helpers import responses, unlock

pytestmark = pytest.mark.django_db(transaction=True)


def _race(n, target):
    barrier = threading.Barrier(n)
    outcomes = []

    def run(i):
        try:
            barrier.wait()
            outcomes.append(("ok", target(i)))
        except ValidationError as exc:
            outcomes.append(("error", exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_submissions_count_once(employee, round_):
    course = make_course(lessons=1)
    quiz = Quiz.objects.get(course=course)
    unlock(employee, quiz)
    attempt = services.attempt_start(user=employee, quiz=quiz)
    # The two submissions differ, so we can tell which one was recorded.
    answers = [responses(attempt), responses(attempt, wrong=len(attempt.question_ids))]

    outcomes = _race(2, lambda i: services.attempt_submit(user=employee, attempt_id=attempt.pk, responses=answers[i]))

    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"]
    winner = next(value for kind, value in outcomes if kind == "ok")
    loser = next(value for kind, value in outcomes if kind == "error")
    assert loser.code == "submitted"
    attempt.refresh_from_db()
    assert attempt.status == AttemptStatus.SUBMITTED
    assert attempt.score == winner.score and attempt.submitted_at == winner.submitted_at
    assert Attempt.objects.filter(quiz=quiz, user=employee).count() == 1


def test_concurrent_starts_never_exceed_the_limit(employee):
    course = make_course(lessons=1)
    quiz = Quiz.objects.get(course=course)
    quiz.max_attempts = 1
    quiz.save()
    unlock(employee, quiz)
    outcomes = _race(3, lambda i: services.attempt_start(user=employee, quiz=quiz).pk)
    ids = {value for kind, value in outcomes if kind == "ok"}
    assert len(ids) == 1  # everyone got the same single attempt
    assert Attempt.objects.filter(quiz=quiz, user=employee).count() == 1


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_starts_all_resume_one_open_attempt(employee, round_):
    """A double click on "Start quiz": every request gets the same attempt, none an error."""
    course = make_course(lessons=1)
    quiz = Quiz.objects.get(course=course)
    unlock(employee, quiz)
    outcomes = _race(4, lambda i: services.attempt_start(user=employee, quiz=quiz).pk)
    assert [kind for kind, _ in outcomes] == ["ok"] * 4, outcomes
    assert len({value for _, value in outcomes}) == 1
    assert Attempt.objects.filter(quiz=quiz, user=employee).count() == 1
