"""Factories for dashboard tests: a course, and learner activity written as rows with
chosen values (scores, times), so tests can compute the expected figures themselves."""

import datetime as dt
import itertools

from django.utils import timezone

from accounts.models import Role
from courseapp.models import Attempt, AttemptStatus, Enrollment, LessonProgress, Quiz
from dashboards.services import assignment_create
from playground.models import PlaygroundRun, RunStatus
from tests.courseapp.factories import make_course
from tests.factories import make_team, make_user

_seq = itertools.count(1)

__all__ = ["make_course", "make_team", "make_user", "progress", "attempt", "run", "finish", "assign", "team_with"]


def team_with(n: int, *, name: str | None = None):
    """A team with a manager and `n` employees."""
    team = make_team(name)
    manager = make_user(Role.MANAGER, team=team)
    return team, manager, [make_user(Role.EMPLOYEE, team=team) for _ in range(n)]


def progress(user, lesson, *, done: bool = True, seconds: int = 600, at: dt.datetime | None = None):
    at = at or timezone.now()
    return LessonProgress.objects.create(user=user, lesson=lesson, first_viewed_at=at, last_viewed_at=at,
                                         completed_at=at if done else None, time_spent_seconds=seconds if done else 0)


def attempt(user, quiz: Quiz, *, score: float, at: dt.datetime | None = None):
    number = Attempt.objects.filter(user=user, quiz=quiz).count() + 1
    return Attempt.objects.create(user=user, quiz=quiz, number=number, status=AttemptStatus.SUBMITTED, score=score,
                                  passed=score >= quiz.pass_mark, submitted_at=at or timezone.now())


def run(user, *, tokens: int = 20, compute: float = 1.5):
    return PlaygroundRun.objects.create(user=user, model_name="m", mode="completion", prompt=f"p{next(_seq)}",
                                        status=RunStatus.DONE, completion_tokens=tokens, compute_seconds=compute)


def finish(user, course):
    Enrollment.objects.update_or_create(user=user, course=course, defaults={"completed_at": timezone.now()})


def assign(by, course, due: dt.date, *, team=None, user=None):
    return assignment_create(assigned_by=by, course=course, due_date=due, team=team, user=user)
