"""Learner actions: progress, quiz attempts, certificates, and seeding the built-in
course. Authoring (import, export, the authoring pages) is in authoring.py; reads
live in selectors.py."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import scoring, selectors
from .models import (
    Attempt,
    AttemptAnswer,
    AttemptStatus,
    Certificate,
    Choice,
    Course,
    Enrollment,
    Lesson,
    LessonProgress,
    Question,
    Quiz,
)

BUILTIN_COURSE_DIR = Path(__file__).resolve().parent / "content" / "how-llms-work"
# The lesson page reports active reading time every LESSON_TIME_REPORT_SECONDS; a report
# claiming more than this is stale or forged, and adds only this much.
MAX_TIME_REPORT_SECONDS = 120
_random = secrets.SystemRandom()


def save_validated(obj):
    """full_clean() then save(): every write in this app goes through it."""
    obj.full_clean()
    obj.save()
    return obj


# --- Seeding -------------------------------------------------------------------------


def course_seed_builtin(*, log: Callable[[str], object] = print) -> Course:
    """Load the built-in course "How LLMs work" unless it is already there."""
    slug = "how-llms-work"
    course = Course.objects.filter(slug=slug).first()
    if course is not None:
        return course
    from .authoring import course_import  # authoring writes through save_validated, from here

    course = course_import(folder=BUILTIN_COURSE_DIR)
    log(f"Loaded the built-in course “{course.title['en']}”.")
    return course


# --- Progress --------------------------------------------------------------------


# Visits are shown to the minute; a reload within this adds no write (every lesson view records one).
VISIT_RESOLUTION = timedelta(seconds=60)


def lesson_visit(*, user, lesson: Lesson, progress: LessonProgress | None = None,
                 enrollment: Enrollment | None = None) -> None:
    """Record that `user` opened `lesson`: progress timestamps and the resume point.

    A reload within VISIT_RESOLUTION of the last recorded visit changes no row. Given the
    user's progress on the lesson and enrollment as just read (the outline has them), it
    then costs no query at all; otherwise two UPDATEs that match nothing and two EXISTS."""
    now = timezone.now()
    cutoff = now - VISIT_RESOLUTION
    if (progress is not None and enrollment is not None and progress.last_viewed_at >= cutoff
            and enrollment.last_lesson_id == lesson.pk and enrollment.last_activity_at >= cutoff):
        return
    progress = LessonProgress.objects.filter(user=user, lesson=lesson)
    if not progress.filter(last_viewed_at__lt=cutoff).update(last_viewed_at=now) and not progress.exists():
        LessonProgress.objects.get_or_create(user=user, lesson=lesson,
                                             defaults={"first_viewed_at": now, "last_viewed_at": now})
    enrollment = Enrollment.objects.filter(user=user, course_id=lesson.course_id)
    moved = enrollment.filter(Q(last_activity_at__lt=cutoff) | ~Q(last_lesson=lesson))
    if not moved.update(last_lesson=lesson, last_activity_at=now) and not enrollment.exists():
        Enrollment.objects.update_or_create(user=user, course_id=lesson.course_id, defaults={"last_lesson": lesson})


def lesson_time_add(*, user, lesson: Lesson, seconds: int) -> int | None:
    """Add active reading time (reported by the lesson page) to `user`'s progress on
    `lesson`, clamped to 0..MAX_TIME_REPORT_SECONDS. Returns the seconds added, or None
    when the user has no progress on the lesson (never opened it, or it was locked).

    One UPDATE that adds in the database, so reports from two tabs add up."""
    seconds = min(max(int(seconds), 0), MAX_TIME_REPORT_SECONDS)
    progress = LessonProgress.objects.filter(user=user, lesson=lesson)
    if seconds == 0:
        return 0 if progress.exists() else None
    updated = progress.update(time_spent_seconds=F("time_spent_seconds") + seconds)
    return seconds if updated else None


def _refuse_if_locked(*, user, kind: str, obj: Lesson | Quiz) -> None:
    """The prerequisite rule, for every caller: a learner acts only on an item their
    course outline shows open (admins previewing a course are never locked)."""
    if not selectors.item_is_open(user=user, course=obj.course, kind=kind, slug=obj.slug):
        raise ValidationError(_("This lesson is locked.") if kind == "lesson" else _("This quiz is locked."),
                              code="locked")


@transaction.atomic
def lesson_complete(*, user, lesson: Lesson) -> LessonProgress:
    """Mark a lesson complete. Time spent is what the page measured (lesson_time_add).
    Raises ValidationError when the lesson is locked for the user."""
    _refuse_if_locked(user=user, kind="lesson", obj=lesson)
    now = timezone.now()
    progress, _created = LessonProgress.objects.select_for_update().get_or_create(
        user=user, lesson=lesson, defaults={"first_viewed_at": now, "last_viewed_at": now})
    if progress.completed_at is None:
        progress.completed_at = now
        progress.full_clean()
        progress.save(update_fields=["completed_at"])  # the reading time is added by lesson_time_add
    certificate_issue_if_complete(user=user, course=lesson.course)
    return progress


def certificate_issue_if_complete(*, user, course: Course) -> Certificate | None:
    """Issue the course certificate once every published lesson is complete and every
    published quiz passed; returns it (new or existing) or None."""
    from .selectors import course_is_complete

    existing = Certificate.objects.filter(user=user, course=course).first()
    if existing or not course_is_complete(user=user, course=course):
        return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            certificate = save_validated(Certificate(code=secrets.token_urlsafe(16), user=user, course=course))
    except IntegrityError:  # issued by a concurrent request
        return Certificate.objects.get(user=user, course=course)
    Enrollment.objects.update_or_create(user=user, course=course, defaults={"completed_at": now})
    return certificate


# --- Quiz attempts -----------------------------------------------------------------


def _draw(pool: list[tuple[int, bool]], count: int) -> list[int]:
    """Every pinned question, then random others up to `count`, in a shuffled order.
    (The course reader refuses more pinned questions than `count`; an author who pins
    more here still gets them all.)"""
    pinned = [pk for pk, is_pinned in pool if is_pinned]
    others = [pk for pk, is_pinned in pool if not is_pinned]
    drawn = pinned + _random.sample(others, k=max(0, min(count - len(pinned), len(others))))
    _random.shuffle(drawn)
    return drawn


def attempt_start(*, user, quiz: Quiz) -> Attempt:
    """Resume the learner's open attempt, or start one: draw the questions, shuffle
    the choices under fresh opaque keys. Raises ValidationError when the quiz is
    locked for the user, or past the limit.

    Starts by one learner run one at a time (their user row is locked; SQLite's
    immediate transactions lock the whole database), so a double click resumes the
    attempt the first click made instead of failing or opening a second one."""
    _refuse_if_locked(user=user, kind="quiz", obj=quiz)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).exists()
        open_attempt = Attempt.objects.filter(user=user, quiz=quiz, status=AttemptStatus.IN_PROGRESS).first()
        if open_attempt is not None:
            return open_attempt
        used = Attempt.objects.filter(user=user, quiz=quiz).aggregate(n=Max("number"))["n"] or 0
        if quiz.max_attempts and used >= quiz.max_attempts:
            raise ValidationError(_("You have used all %(n)d attempts at this quiz.") % {"n": quiz.max_attempts})
        pool = list(quiz.questions.filter(published=True).values_list("pk", "pinned"))
        if not pool:
            raise ValidationError(_("This quiz has no questions yet."))
        drawn = _draw(pool, quiz.questions_per_attempt)
        choice_keys = {}
        for question_id in drawn:
            choice_ids = list(Choice.objects.filter(question_id=question_id).values_list("pk", flat=True))
            if choice_ids:
                _random.shuffle(choice_ids)
                choice_keys[str(question_id)] = [[secrets.token_urlsafe(6), cid] for cid in choice_ids]
        attempt = Attempt(user=user, quiz=quiz, number=used + 1, question_ids=drawn, choice_keys=choice_keys)
        attempt.full_clean()
        attempt.save()
    return attempt


def _question_map(attempt: Attempt) -> dict[int, Question]:
    questions = Question.objects.filter(pk__in=attempt.question_ids).prefetch_related("choices")
    return {q.pk: q for q in questions}


def _lab_expected(question: Question, user) -> tuple[float, int]:
    """The value a lab question asks for, read now from the learner's latest finished
    fine-tune, and that job's id."""
    from training.selectors import lab_job, lab_value

    job = lab_job(user=user)
    if job is None:
        raise ValidationError(_("This question is checked against your own fine-tune, and you have no finished "
                                "one yet. Start the lab's fine-tune first (Fine-tunes, quick CPU preset), wait "
                                "until it has succeeded, then answer."))
    expected = lab_value(job=job, metric=question.lab_metric)
    if expected is None:
        raise ValidationError(_("Your latest fine-tune did not record this value. Run the lab's fine-tune again."))
    return expected, job.pk


def _grade(question: Question, keys: dict[str, int], values: list[str], *, user) -> tuple[list[str], float]:
    values = scoring.normalise_response(question, values, keys)
    if question.type == "lab":
        if not values:
            return values, 0.0
        expected, job_id = _lab_expected(question, user)
        # Kept with the answer, so the feedback names the value and the job it was checked against.
        return [values[0], repr(expected), str(job_id)], scoring.score(question, values, keys, set(), expected)
    correct = {c.pk for c in question.choices.all() if c.correct}
    return values, scoring.score(question, values, keys, correct)


def _lock_open_attempt(*, user, attempt_id: int) -> Attempt:
    attempt = (Attempt.objects.select_for_update(of=("self",)).select_related("quiz")
               .filter(pk=attempt_id, user=user).first())
    if attempt is None:
        raise ValidationError(_("No such attempt."))
    if attempt.status != AttemptStatus.IN_PROGRESS:
        raise ValidationError(_("This attempt has already been submitted."), code="submitted")
    if attempt.quiz.max_attempts and attempt.number > attempt.quiz.max_attempts:
        raise ValidationError(_("This attempt is beyond the quiz's attempt limit."))
    return attempt


def _check_question_ids(attempt: Attempt, responses: dict[str, list[str]]):
    allowed = {str(qid) for qid in attempt.question_ids}
    stray = sorted(set(responses) - allowed)
    if stray:
        raise ValidationError(_("The answers include questions that are not part of this attempt."))


@transaction.atomic
def attempt_answer_check(*, user, attempt_id: int, question_id: str, values: list[str]) -> AttemptAnswer:
    """Lock in one question's answer and score it, for immediate feedback. Once
    checked, an answer is final: its feedback shows the correct choices."""
    attempt = _lock_open_attempt(user=user, attempt_id=attempt_id)
    _check_question_ids(attempt, {question_id: values})
    if AttemptAnswer.objects.filter(attempt=attempt, question_id=int(question_id)).exists():
        raise ValidationError(_("This question has already been answered."))
    question = _question_map(attempt)[int(question_id)]
    keys = dict(attempt.choice_keys.get(question_id, []))
    values, fraction = _grade(question, keys, values, user=user)
    return save_validated(AttemptAnswer(attempt=attempt, question=question, response=values, fraction=fraction))


def attempt_submit(*, user, attempt_id: int, responses: dict[str, list[str]]) -> Attempt:
    """Score an attempt on the server and close it, exactly once.

    `responses` maps question ids (as sent by the form) to raw values; questions
    already checked one at a time keep their locked answers. Any malformed answer
    rejects the whole submission and records nothing.
    """
    with transaction.atomic():
        attempt = _lock_open_attempt(user=user, attempt_id=attempt_id)
        _check_question_ids(attempt, responses)
        locked = {str(a.question_id): a for a in attempt.answers.all()}
        questions = _question_map(attempt)
        final_responses, results, earned, possible = {}, {}, 0.0, 0
        for question_id in attempt.question_ids:
            key = str(question_id)
            question = questions.get(question_id)
            if question is None:  # deleted by an author since the draw: not counted
                continue
            if key in locked:
                values, fraction = locked[key].response, locked[key].fraction
            else:
                keys = dict(attempt.choice_keys.get(key, []))
                values, fraction = _grade(question, keys, responses.get(key, []), user=user)
            final_responses[key], results[key] = values, fraction
            earned += fraction * question.points
            possible += question.points
        percent = round(100.0 * earned / possible, 1) if possible else 0.0
        passed = percent >= attempt.quiz.pass_mark
        # The conditional UPDATE is the exactly-once guard: of two concurrent
        # submissions only one finds the attempt still in progress.
        updated = Attempt.objects.filter(pk=attempt.pk, status=AttemptStatus.IN_PROGRESS).update(
            status=AttemptStatus.SUBMITTED, responses=final_responses, results=results, score=percent,
            passed=passed, submitted_at=timezone.now())
        if updated != 1:
            raise ValidationError(_("This attempt has already been submitted."), code="submitted")
    attempt.refresh_from_db()
    if passed:
        certificate_issue_if_complete(user=user, course=attempt.quiz.course)
    return attempt
