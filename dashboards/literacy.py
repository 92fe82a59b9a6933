"""Selectors for the AI-literacy record (EU AI Act, Article 4): per person, the lessons
completed with their dates, quiz scores, the hands-on labs done with the figures of the
person's own fine-tune, certificates and the course version taken.

Whose record a viewer may read is `core.policy.people_on_record_for` (admins: everyone;
managers: their teams), inactive people included. Everything is read in a fixed number
of queries, whatever the number of people."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from accounts.models import Team, User
from audit.selectors import course_versions
from core import policy
from core.errors import NotFound
from core.spreadsheet import safe_row
from courseapp.models import Attempt, AttemptStatus, Certificate, Course, LessonProgress, Question, QuestionType
from training.models import FineTuneJob
from training.selectors import LAB_VALUES

from .scope import team_get


@dataclass
class LessonDone:
    title: str
    completed_at: dt.datetime


@dataclass
class QuizScore:
    title: str
    best: float
    passed: bool
    attempts: int
    submitted_at: dt.datetime  # of the best attempt


@dataclass
class LabDone:
    """A lab quiz answered against the person's own fine-tune, with that job's figures."""

    course: Course
    quiz: str
    job: FineTuneJob
    figures: dict[str, float | None]
    correct: int
    asked: int
    submitted_at: dt.datetime


@dataclass
class CourseRecord:
    course: Course
    version: dt.datetime | None = None  # the content version taken; None: older than the log
    lessons: list[LessonDone] = field(default_factory=list)
    quizzes: list[QuizScore] = field(default_factory=list)
    labs: list[LabDone] = field(default_factory=list)
    certificate: Certificate | None = None

    @property
    def last_activity(self) -> dt.datetime | None:
        times = [x.completed_at for x in self.lessons] + [q.submitted_at for q in self.quizzes]
        return max(times, default=None)


@dataclass
class PersonRecord:
    person: User
    courses: list[CourseRecord]

    @property
    def lessons_completed(self) -> int:
        return sum(len(c.lessons) for c in self.courses)

    @property
    def certificates(self) -> int:
        return sum(1 for c in self.courses if c.certificate)


# --- whose record ----------------------------------------------------------------------


def _ordered(qs) -> list[User]:
    return list(qs.select_related("team").order_by("team__name", "name", "username"))


def literacy_people(*, viewer: User, team_id: int | None = None, user_id: int | None = None
                    ) -> tuple[list[User], Team | None]:
    """The people on the record the viewer asked for (everyone they may see, one team,
    or one person), or NotFound for a team or person outside their scope."""
    people = policy.people_on_record_for(viewer)
    if user_id is not None:
        person = people.filter(pk=user_id).select_related("team").first()
        if person is None:
            raise NotFound
        return [person], None
    if team_id is not None:
        team = team_get(viewer=viewer, team_id=team_id)
        return _ordered(people.filter(team=team)), team
    return _ordered(people), None


# --- what is on it ---------------------------------------------------------------------


def _version_at(course: Course, when: dt.datetime | None, published: list) -> dt.datetime | None:
    """The course content's version at `when`: the current one if nothing changed since,
    else the last one the audit log saw published before then."""
    if when is None or course.updated_at <= when:
        return course.updated_at
    earlier = [version for at, version in published if at <= when]
    return earlier[-1] if earlier else None


def _labs(attempts: list[Attempt], lab_ids: set[int], jobs: dict[int, FineTuneJob]) -> list[LabDone]:
    """Per quiz and fine-tune, the latest submitted attempt whose lab answers were checked
    against that job (the job's id is kept with each answer: courseapp.services._grade)."""
    found: dict[tuple[int, int], LabDone] = {}
    for attempt in sorted(attempts, key=lambda a: a.submitted_at):
        per_job: dict[int, list[float]] = defaultdict(list)
        for key, values in attempt.responses.items():
            if int(key) in lab_ids and len(values) == 3 and int(values[2]) in jobs:
                per_job[int(values[2])].append(attempt.results.get(key, 0.0))
        for job_id, fractions in per_job.items():
            job = jobs[job_id]
            found[(attempt.quiz_id, job_id)] = LabDone(
                course=attempt.quiz.course, quiz=attempt.quiz.title_text, job=job, figures={m: read(job) for m, read in LAB_VALUES.items()},
                correct=sum(1 for f in fractions if f >= 1.0), asked=len(fractions),
                submitted_at=attempt.submitted_at)
    return list(found.values())


def literacy_records(*, people: list[User]) -> list[PersonRecord]:
    ids = [p.pk for p in people]
    progress = (LessonProgress.objects.filter(user_id__in=ids, completed_at__isnull=False)
                .select_related("lesson__course").order_by("completed_at"))
    attempts = list(Attempt.objects.filter(user_id__in=ids, status=AttemptStatus.SUBMITTED)
                    .select_related("quiz__course").order_by("submitted_at"))
    certificates = Certificate.objects.filter(user_id__in=ids).select_related("course")
    lab_ids = set(Question.objects.filter(type=QuestionType.LAB, quiz__in={a.quiz_id for a in attempts})
                  .values_list("pk", flat=True))
    job_ids = {int(v[2]) for a in attempts for k, v in a.responses.items() if int(k) in lab_ids and len(v) == 3}
    jobs = {j.pk: j for j in FineTuneJob.objects.filter(pk__in=job_ids, user_id__in=ids)}

    records: dict[int, dict[int, CourseRecord]] = defaultdict(dict)

    def course_record(user_id: int, course: Course) -> CourseRecord:
        return records[user_id].setdefault(course.pk, CourseRecord(course=course))

    for p in progress:
        course_record(p.user_id, p.lesson.course).lessons.append(LessonDone(p.lesson.title_text, p.completed_at))
    by_quiz: dict[tuple[int, int], list[Attempt]] = defaultdict(list)
    by_user: dict[int, list[Attempt]] = defaultdict(list)
    for a in attempts:
        by_quiz[(a.user_id, a.quiz_id)].append(a)
        by_user[a.user_id].append(a)
    for (user_id, _quiz), tries in by_quiz.items():
        best = max(tries, key=lambda a: (a.score or 0, -a.submitted_at.timestamp()))
        course_record(user_id, best.quiz.course).quizzes.append(QuizScore(
            title=best.quiz.title_text, best=best.score or 0.0, passed=any(a.passed for a in tries),
            attempts=len(tries), submitted_at=best.submitted_at))
    for user_id, tries in by_user.items():
        for lab in _labs(tries, lab_ids, jobs):
            course_record(user_id, lab.course).labs.append(lab)
    for c in certificates:
        course_record(c.user_id, c.course).certificate = c

    versions = course_versions(course_ids={cid for per in records.values() for cid in per})
    result = []
    for person in people:
        courses = sorted(records.get(person.pk, {}).values(), key=lambda r: (r.course.position, r.course.pk))
        for r in courses:
            when = r.certificate.issued_at if r.certificate else r.last_activity
            r.version = _version_at(r.course, when, versions.get(r.course.pk, []))
        result.append(PersonRecord(person=person, courses=courses))
    return result


# --- as CSV ----------------------------------------------------------------------------


def _iso(value) -> str:
    return value.isoformat() if value else ""


def _figures(lab: LabDone) -> str:
    f = lab.figures
    return _("fine-tune #%(job)s “%(name)s”: %(steps)s steps; perplexity %(pb)s → %(pa)s; held-out loss "
             "%(lb)s → %(la)s; final training loss %(tl)s; lab answers right %(ok)s/%(n)s") % {
        "job": lab.job.pk, "name": lab.job.name, "steps": _num(f["steps"]), "pb": _num(f["perplexity_before"]),
        "pa": _num(f["perplexity_after"]), "lb": _num(f["eval_loss_before"]), "la": _num(f["eval_loss_after"]),
        "tl": _num(f["final_train_loss"]), "ok": lab.correct, "n": lab.asked}


def _num(value) -> str:
    return "—" if value is None else f"{value:.4g}"


def literacy_csv_rows(*, records: list[PersonRecord], absolute_url) -> Iterable[list]:
    """One row per lesson, quiz, lab and certificate (a person with none gets one row),
    headed in the page's language; every cell spreadsheet-safe. `absolute_url` turns a
    certificate's path into its verification link."""
    yield [_("team"), _("username"), _("full name"), _("email"), _("active"), _("course"), _("course version"),
           _("record"), _("item"), _("date"), _("score (%)"), _("passed"), _("attempts"), _("details"),
           _("verification link")]
    for rec in records:
        p = rec.person
        who = [p.team.name if p.team else "", p.username, p.display_name, p.email, _("yes") if p.is_active else _("no")]
        if not rec.courses:
            yield safe_row([*who, "", "", "", _("nothing completed yet"), "", "", "", "", "", ""])
        for c in rec.courses:
            course = [c.course.title_text, _iso(c.version)]
            for lesson in c.lessons:
                yield safe_row([*who, *course, _("lesson"), lesson.title, _iso(lesson.completed_at), "", "", "", "", ""])
            for q in c.quizzes:
                yield safe_row([*who, *course, _("quiz"), q.title, _iso(q.submitted_at), f"{q.best:g}",
                                _("yes") if q.passed else _("no"), q.attempts, "", ""])
            for lab in c.labs:
                yield safe_row([*who, *course, _("lab"), lab.quiz, _iso(lab.submitted_at), "", "", "",
                                _figures(lab), ""])
            if c.certificate:
                yield safe_row([*who, *course, _("certificate"), c.certificate.code, _iso(c.certificate.issued_at),
                                "", "", "", "", absolute_url(c.certificate.get_absolute_url())])
