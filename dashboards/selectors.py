"""Reads for team dashboards: statistics, the overview and one team's page.

Every read is scoped by who asks (`scope.py`: `teams_for`, `team_get`, `person_get`),
and costs a fixed number of queries whatever the number of people: statistics are
grouped aggregates (by team or by person), never a query per employee. Open edX's
grade reports taught that lesson by being slow.

The other reads sit beside this module: `scope` (who may be reported on), `filters`
(the courses and dates asked for), `reminders` (assignments due and overdue),
`people` (one person's page) and `exports` (CSV rows). A refusal is
`core.errors.NotFound`, never an HTTP exception: exports run in Celery too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Team, User
from accounts.selectors import team_members as _team_members
from courseapp.models import Attempt, AttemptStatus, Course, Enrollment, Lesson, LessonProgress, Quiz
from playground.models import PlaygroundRun
from training.models import FineTuneJob
from training.selectors import USAGE_AT

from .filters import Filters
from .models import Assignment
from .reminders import overdue_pairs
from .scope import team_get, teams_for

BUCKETS = 10  # score distribution: 0–9 %, 10–19 %, …, 90–100 %


# --- Statistics ------------------------------------------------------------------


@dataclass
class Stats:
    """Additive counts for a group of people (a team, or one person). Sums and counts,
    not averages, so a team's figures are the sum of its members'."""

    members: int = 0
    lessons_done: dict[int, int] = field(default_factory=dict)  # course id → completed lessons
    finished: dict[int, int] = field(default_factory=dict)  # course id → people who finished the course
    time_spent_seconds: int = 0
    attempts: int = 0
    score_sum: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    overdue_items: list[tuple[int, int, dt.date]] = field(default_factory=list)  # (person, course, due)
    runs: int = 0
    tokens: int = 0
    compute_seconds: float = 0.0
    # Fine-tune jobs (training app); None until that app is installed.
    jobs: int | None = None
    gpu_seconds: float | None = None

    def add(self, other: Stats) -> None:
        self.members += other.members
        for mine, theirs in ((self.lessons_done, other.lessons_done), (self.finished, other.finished)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        self.time_spent_seconds += other.time_spent_seconds
        self.attempts += other.attempts
        self.score_sum += other.score_sum
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
        self.overdue_items += other.overdue_items
        self.runs += other.runs
        self.tokens += other.tokens
        self.compute_seconds += other.compute_seconds
        if other.jobs is not None:
            self.jobs = (self.jobs or 0) + other.jobs
            self.gpu_seconds = (self.gpu_seconds or 0.0) + (other.gpu_seconds or 0.0)

    @property
    def overdue(self) -> int:
        return len(self.overdue_items)

    @property
    def score_avg(self) -> float | None:
        return round(self.score_sum / self.attempts, 1) if self.attempts else None

    @property
    def time_spent_hours(self) -> float:
        return round(self.time_spent_seconds / 3600, 1)

    @property
    def lessons_done_total(self) -> int:
        return sum(self.lessons_done.values())


@dataclass
class CourseCompletion:
    course: Course
    lessons_done: int
    possible: int
    finished: int

    @property
    def percent(self) -> int:
        return round(100 * self.lessons_done / self.possible) if self.possible else 0


def completion_by_course(stats: Stats, courses: Iterable[Course]) -> list[CourseCompletion]:
    return [CourseCompletion(c, stats.lessons_done.get(c.pk, 0), stats.members * c.lesson_count,
                             stats.finished.get(c.pk, 0)) for c in courses]


def _score_buckets():
    """One conditional count per bucket, all in one aggregate query."""
    out = {}
    for i in range(BUCKETS):
        q = Q(score__gte=i * 100 / BUCKETS)
        if i < BUCKETS - 1:
            q &= Q(score__lt=(i + 1) * 100 / BUCKETS)
        out[f"b{i}"] = Count("id", filter=q)
    return out


def job_stats(*, users: Q, window: Q, by: str) -> dict[int, tuple[int, float]] | None:
    """Fine-tune jobs and GPU-seconds per group: one grouped aggregate."""
    rows = (FineTuneJob.objects.filter(users, window).values(by)
            .annotate(n=Count("id"), gpu=Sum("gpu_seconds")))
    return {r[by]: (r["n"], r["gpu"] or 0.0) for r in rows}


def group_stats(*, teams: list[Team], filters: Filters, by: str = "team",
                today: dt.date | None = None) -> dict[int, Stats]:
    """Stats of the given teams' active members, grouped by team id (`by="team"`) or
    by person id (`by="user"`). A fixed number of grouped queries, whatever the size."""
    today = today or timezone.localdate()
    key = "user__team_id" if by == "team" else "user_id"
    users = Q(user__team__in=teams, user__is_active=True)
    course_ids = filters.course_ids
    groups: dict[int, Stats] = defaultdict(Stats)

    members = dict(User.objects.filter(team__in=teams, is_active=True).values_list("id", "team_id"))
    for user_id, team_id in members.items():
        groups[team_id if by == "team" else user_id].members += 1
    group_of = (lambda user_id: members[user_id]) if by == "team" else (lambda user_id: user_id)  # noqa: E731

    progress = (LessonProgress.objects.filter(users, lesson__course_id__in=course_ids, lesson__published=True)
                .values(key, "lesson__course_id")
                .annotate(done=Count("id", filter=filters.until_end("completed_at")),
                          # reading time is recorded as it happens, completed or not (last read in the window)
                          spent=Sum("time_spent_seconds", filter=filters.window("last_viewed_at"))))
    for row in progress:
        stats = groups[row[key]]
        stats.lessons_done[row["lesson__course_id"]] = row["done"]
        stats.time_spent_seconds += row["spent"] or 0

    finished_rows = list(Enrollment.objects.filter(users, course_id__in=course_ids, completed_at__isnull=False)
                         .values_list("user_id", "course_id", "completed_at"))
    end_limit = filters.end_limit
    for user_id, course_id, completed_at in finished_rows:
        if end_limit and completed_at >= end_limit:
            continue
        finished = groups[group_of(user_id)].finished
        finished[course_id] = finished.get(course_id, 0) + 1

    attempts = (Attempt.objects.filter(users, filters.window("submitted_at"), status=AttemptStatus.SUBMITTED,
                                       quiz__course_id__in=course_ids)
                .values(key).annotate(n=Count("id"), total=Sum("score"), **_score_buckets()))
    for row in attempts:
        stats = groups[row[key]]
        stats.attempts, stats.score_sum = row["n"], row["total"] or 0.0
        stats.buckets = [row[f"b{i}"] for i in range(BUCKETS)]

    runs = (PlaygroundRun.objects.filter(users, filters.window("created_at")).values(key)
            .annotate(n=Count("id"), tokens=Sum("completion_tokens"), compute=Sum("compute_seconds")))
    for row in runs:
        stats = groups[row[key]]
        stats.runs, stats.tokens, stats.compute_seconds = row["n"], row["tokens"] or 0, row["compute"] or 0.0

    jobs = job_stats(users=users, window=filters.window(USAGE_AT), by=key)
    if jobs is not None:
        for group in groups.values():
            group.jobs, group.gpu_seconds = 0, 0.0
        for group_id, (n, gpu) in jobs.items():
            groups[group_id].jobs, groups[group_id].gpu_seconds = n, gpu

    assignments = list(Assignment.objects.filter(Q(team__in=teams) | Q(user__team__in=teams),
                                                 course_id__in=course_ids)
                       .values("team_id", "user_id", "course_id", "due_date"))
    overdue = overdue_pairs(members=members, assignments=assignments,
                             finished={(u, c) for u, c, _ in finished_rows}, today=today)
    for (user_id, course_id), due in sorted(overdue.items(), key=lambda kv: kv[1]):
        groups[group_of(user_id)].overdue_items.append((user_id, course_id, due))
    return groups


@dataclass
class TeamSummary:
    team: Team
    stats: Stats
    courses: list[CourseCompletion]

    @property
    def completion_percent(self) -> int:
        done = sum(c.lessons_done for c in self.courses)
        possible = sum(c.possible for c in self.courses)
        return round(100 * done / possible) if possible else 0


def overview(*, viewer: User, filters: Filters, today: dt.date | None = None) -> dict:
    """Every team the viewer may see, one row each, and the total over them."""
    teams = teams_for(viewer=viewer)
    stats = group_stats(teams=teams, filters=filters, by="team", today=today)
    rows = [TeamSummary(t, stats.get(t.pk, Stats()), completion_by_course(stats.get(t.pk, Stats()), filters.courses))
            for t in teams]
    total = Stats()
    for row in rows:
        total.add(row.stats)
    return {"rows": rows, "total": TeamSummary(Team(name=""), total, completion_by_course(total, filters.courses))}


# --- One team: members, matrix, charts ------------------------------------------------


@dataclass
class Cell:
    lesson: Lesson
    status: str  # "done" | "started" | "not_started"
    score: float | None = None
    passed: bool | None = None
    has_quiz: bool = False
    completed_at: dt.datetime | None = None
    time_spent_seconds: int = 0


@dataclass
class MemberRow:
    person: User
    stats: Stats
    cells: list[Cell] = field(default_factory=list)
    overdue_courses: list[tuple[Course, dt.date]] = field(default_factory=list)

    @property
    def done_count(self) -> int:
        return sum(c.status == "done" for c in self.cells)


def team_members(*, team: Team) -> list[User]:
    return list(_team_members(team=team))


def course_lessons(*, course: Course) -> list[Lesson]:
    return list(Lesson.objects.filter(course=course, published=True).defer("body", "body_html")
                .order_by("module__position", "position", "id"))


def lesson_matrix(*, people: list[User], course: Course) -> tuple[list[Lesson], dict[int, list[Cell]]]:
    """Status and best quiz score for each person × published lesson of the course,
    from three queries (lessons, progress, best attempts)."""
    lessons = course_lessons(course=course)
    lesson_ids = [lesson.pk for lesson in lessons]
    quiz_of = dict(Quiz.objects.filter(lesson_id__in=lesson_ids, published=True).values_list("lesson_id", "pk"))
    progress = {
        (p["user_id"], p["lesson_id"]): p
        for p in LessonProgress.objects.filter(user__in=people, lesson_id__in=lesson_ids)
        .values("user_id", "lesson_id", "completed_at", "time_spent_seconds")
    }
    best = {
        (a["user_id"], a["quiz_id"]): a
        for a in Attempt.objects.filter(user__in=people, quiz_id__in=quiz_of.values(), status=AttemptStatus.SUBMITTED)
        .values("user_id", "quiz_id").annotate(best=Max("score"), passes=Count("id", filter=Q(passed=True)))
    }
    cells: dict[int, list[Cell]] = {}
    for person in people:
        row = []
        for lesson in lessons:
            p = progress.get((person.pk, lesson.pk))
            status = "not_started" if p is None else ("done" if p["completed_at"] else "started")
            quiz_id = quiz_of.get(lesson.pk)
            attempt = best.get((person.pk, quiz_id)) if quiz_id else None
            row.append(Cell(lesson, status, attempt["best"] if attempt else None,
                            bool(attempt["passes"]) if attempt else None, quiz_id is not None,
                            p["completed_at"] if p else None, p["time_spent_seconds"] if p else 0))
        cells[person.pk] = row
    return lessons, cells


def completion_series(*, teams: list[Team], filters: Filters, members: int, today: dt.date | None = None) -> dict:
    """Cumulative lesson completion (% of members × lessons) per day, for the chart."""
    today = today or timezone.localdate()
    possible = members * sum(c.lesson_count for c in filters.courses)
    base = LessonProgress.objects.filter(user__team__in=teams, user__is_active=True, lesson__published=True,
                                         lesson__course_id__in=filters.course_ids, completed_at__isnull=False)
    before = base.filter(completed_at__lt=filters.start_limit).count() if filters.start else 0
    per_day = dict(base.filter(filters.window("completed_at")).annotate(day=TruncDate("completed_at"))
                   .values("day").annotate(n=Count("id")).values_list("day", "n"))
    if not per_day:
        return {"labels": [], "values": []}
    first = filters.start or min(per_day)
    last = filters.end or max(max(per_day), today)
    labels, values, running = [], [], before
    day = first
    while day <= last:
        running += per_day.get(day, 0)
        labels.append(day.isoformat())
        values.append(round(100 * running / possible, 1) if possible else 0)
        day += dt.timedelta(days=1)
    return {"labels": labels, "values": values}


def team_dashboard(*, viewer: User, team_id: int, filters: Filters, matrix_course: Course | None,
                   today: dt.date | None = None) -> dict:
    """Everything the team page shows, in a fixed number of queries."""
    today = today or timezone.localdate()
    team = team_get(viewer=viewer, team_id=team_id)
    people = team_members(team=team)
    per_person = group_stats(teams=[team], filters=filters, by="user", today=today)
    total = Stats()
    rows = []
    for person in people:
        stats = per_person.get(person.pk, Stats())
        total.add(stats)
        rows.append(MemberRow(person, stats))
    lessons: list[Lesson] = []
    if matrix_course is not None:
        lessons, cells = lesson_matrix(people=people, course=matrix_course)
        for row in rows:
            row.cells = cells[row.person.pk]
    by_id = {c.pk: c for c in filters.courses}
    for row in rows:
        row.overdue_courses = [(by_id[c], due) for _u, c, due in row.stats.overdue_items]
    summary = TeamSummary(team, total, completion_by_course(total, filters.courses))
    score_labels = [f"{i * 100 // BUCKETS}–{(i + 1) * 100 // BUCKETS - (i < BUCKETS - 1)}%" for i in range(BUCKETS)]
    return {
        "team": team,
        "summary": summary,
        "rows": rows,
        "lessons": lessons,
        "matrix_course": matrix_course,
        "assignments": list(Assignment.objects.filter(Q(team=team) | Q(user__team=team))
                            .select_related("course", "user").order_by("due_date")),
        "chart": {
            "completion": completion_series(teams=[team], filters=filters, members=len(people), today=today),
            "scores": {"labels": score_labels, "values": total.buckets},
        },
        "score_rows": list(zip(score_labels, total.buckets, strict=True)),
    }


def matrix_course(*, filters: Filters, wanted: str) -> Course | None:
    """The course the matrix shows: the filtered one whose id is `wanted` (?matrix=), else the first."""
    chosen = next((c for c in filters.courses if str(c.pk) == wanted), None)
    return chosen or (filters.courses[0] if filters.courses else None)


def team_matrix(*, viewer: User, team_id: int, course: Course | None) -> dict:
    """The person × lesson matrix of one of the viewer's teams, for another course."""
    team = team_get(viewer=viewer, team_id=team_id)
    people = team_members(team=team)
    lessons, cells = lesson_matrix(people=people, course=course) if course else ([], {})
    rows = [MemberRow(p, Stats(), cells.get(p.pk, [])) for p in people]
    return {"team": team, "rows": rows, "lessons": lessons, "matrix_course": course}
