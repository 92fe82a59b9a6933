"""Reads for team dashboards, assignments and per-employee tracking.

Every read here is scoped by who asks (`teams_for`, `team_get`, `person_get`), and
costs a fixed number of queries whatever the number of people: statistics are
grouped aggregates (by team or by person), never a query per employee. Open edX's
grade reports taught that lesson by being slow.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDate
from django.http import Http404
from django.utils import timezone

from accounts.models import Role, Team, User
from accounts.selectors import team_members as _team_members
from core import policy
from core.spreadsheet import safe_row
from courseapp.models import Attempt, AttemptStatus, Certificate, Course, Enrollment, Lesson, LessonProgress, Quiz
from playground.models import PlaygroundRun
from training.models import ACTIVE, FineTuneJob, Quota
from training.services import usage_seconds

from .models import Assignment, ExportJob

BUCKETS = 10  # score distribution: 0–9 %, 10–19 %, …, 90–100 %


# --- Scope -----------------------------------------------------------------------


def teams_for(*, viewer: User) -> list[Team]:
    """The teams the policy lets the viewer see (every team for admins, their own for
    current managers, none for anyone else), with member counts."""
    return list(policy.teams_managed_by(viewer).annotate(member_count=Count("members", distinct=True)))


def team_get(*, viewer: User, team_id: int) -> Team:
    """A team the viewer may see, or 404 (the same answer as for a team that doesn't exist)."""
    team = next((t for t in teams_for(viewer=viewer) if t.pk == team_id), None)
    if team is None:
        raise Http404
    return team


def person_get(*, viewer: User, user_id: int) -> User:
    """A person the viewer may look at (core.policy.may_view_person), or 404."""
    person = policy.people_visible_to(viewer).filter(pk=user_id).select_related("team").first()
    if person is None:
        raise Http404
    return person


def courses_for(*, viewer: User) -> list[Course]:
    """Courses a dashboard may report on, with their published lesson counts."""
    qs = Course.objects.annotate(lesson_count=Count("lessons", filter=Q(lessons__published=True)))
    if viewer.effective_role != Role.ADMIN:
        qs = qs.filter(published=True)
    return list(qs)


def assignable_people(*, viewer: User, teams: list[Team] | None = None):
    """Active members of the viewer's teams (a queryset, for form choices)."""
    teams = teams_for(viewer=viewer) if teams is None else teams
    return (User.objects.filter(team__in=teams, is_active=True)
            .select_related("team").order_by("team__name", "name", "username"))


# --- Filters ---------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What a dashboard shows: some courses, and activity between two dates (inclusive)."""

    courses: tuple[Course, ...]
    start: dt.date | None = None
    end: dt.date | None = None

    @property
    def course_ids(self) -> list[int]:
        return [c.pk for c in self.courses]

    def _bound(self, day: dt.date) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))

    @property
    def start_limit(self) -> dt.datetime | None:
        return self._bound(self.start) if self.start else None

    @property
    def end_limit(self) -> dt.datetime | None:
        return self._bound(self.end + dt.timedelta(days=1)) if self.end else None

    def window(self, field_name: str) -> Q:
        """Q for `field_name` (a datetime) inside the date range."""
        q = Q()
        if self.start:
            q &= Q(**{f"{field_name}__gte": self.start_limit})
        if self.end:
            q &= Q(**{f"{field_name}__lt": self.end_limit})
        return q

    def until_end(self, field_name: str) -> Q:
        """Q for `field_name` set and no later than the end of the range (state "as of" the end)."""
        q = Q(**{f"{field_name}__isnull": False})
        if self.end:
            q &= Q(**{f"{field_name}__lt": self.end_limit})
        return q


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


def _overdue_pairs(*, members: dict[int, int], assignments: list[dict], finished: set[tuple[int, int]],
                   today: dt.date) -> dict[tuple[int, int], dt.date]:
    """(person id, course id) → earliest passed due date, for assigned courses not finished.

    `members` maps person id → team id; team assignments reach every member."""
    by_team: dict[int, list[int]] = defaultdict(list)
    for user_id, team_id in members.items():
        by_team[team_id].append(user_id)
    pairs: dict[tuple[int, int], dt.date] = {}
    for a in assignments:
        if a["due_date"] >= today:
            continue
        people = by_team.get(a["team_id"], []) if a["team_id"] else ([a["user_id"]] if a["user_id"] in members else [])
        for user_id in people:
            key = (user_id, a["course_id"])
            if key not in finished and (key not in pairs or a["due_date"] < pairs[key]):
                pairs[key] = a["due_date"]
    return pairs


def _job_stats(*, users: Q, window: Q, by: str) -> dict[int, tuple[int, float]] | None:
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

    jobs = _job_stats(users=users, window=filters.window("created_at"), by=key)
    if jobs is not None:
        for group in groups.values():
            group.jobs, group.gpu_seconds = 0, 0.0
        for group_id, (n, gpu) in jobs.items():
            groups[group_id].jobs, groups[group_id].gpu_seconds = n, gpu

    assignments = list(Assignment.objects.filter(Q(team__in=teams) | Q(user__team__in=teams),
                                                 course_id__in=course_ids)
                       .values("team_id", "user_id", "course_id", "due_date"))
    overdue = _overdue_pairs(members=members, assignments=assignments,
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


# --- Assignments ---------------------------------------------------------------------


def assignment_overdue(*, people: list[User], courses: Iterable[Course], today: dt.date) -> dict:
    """(person id, course id) → due date, for the people's overdue, unfinished assignments."""
    course_ids = [c.pk for c in courses]
    members = {p.pk: p.team_id for p in people}
    team_ids = {t for t in members.values() if t}
    assignments = list(Assignment.objects.filter(Q(team_id__in=team_ids) | Q(user__in=people),
                                                 course_id__in=course_ids, due_date__lt=today)
                       .values("team_id", "user_id", "course_id", "due_date"))
    finished = set(Enrollment.objects.filter(user__in=people, course_id__in=course_ids, completed_at__isnull=False)
                   .values_list("user_id", "course_id"))
    return _overdue_pairs(members=members, assignments=assignments, finished=finished, today=today)


@dataclass
class MyAssignment:
    course: Course
    due_date: dt.date
    finished: bool
    today: dt.date

    @property
    def overdue(self) -> bool:
        return not self.finished and self.due_date < self.today

    @property
    def days_left(self) -> int:
        return (self.due_date - self.today).days

    @property
    def due_soon(self) -> bool:
        return not self.finished and 0 <= self.days_left <= settings.REMINDER_DAYS_BEFORE


def assignments_for(*, user: User, today: dt.date | None = None) -> list[MyAssignment]:
    """The user's assigned courses (their own and their team's), one per course with
    the earliest due date; overdue first."""
    today = today or timezone.localdate()
    q = Q(user=user) | (Q(team_id=user.team_id) if user.team_id else Q(pk__in=[]))
    earliest: dict[int, Assignment] = {}
    for a in Assignment.objects.filter(q, course__published=True).select_related("course"):
        if a.course_id not in earliest or a.due_date < earliest[a.course_id].due_date:
            earliest[a.course_id] = a
    finished = set(Enrollment.objects.filter(user=user, course_id__in=earliest, completed_at__isnull=False)
                   .values_list("course_id", flat=True))
    items = [MyAssignment(a.course, a.due_date, a.course_id in finished, today) for a in earliest.values()]
    return sorted(items, key=lambda i: (i.finished, not i.overdue, i.due_date))


def reminders_due(*, today: dt.date) -> dict[User, list[tuple[Assignment, Course]]]:
    """Active people with an unfinished assignment due within REMINDER_DAYS_BEFORE days."""
    horizon = today + dt.timedelta(days=settings.REMINDER_DAYS_BEFORE)
    assignments = list(Assignment.objects.filter(due_date__gte=today, due_date__lte=horizon, course__published=True)
                       .select_related("course"))
    team_ids = {a.team_id for a in assignments if a.team_id}
    user_ids = {a.user_id for a in assignments if a.user_id}
    people = list(User.objects.filter(Q(team_id__in=team_ids) | Q(pk__in=user_ids), is_active=True)
                  .exclude(email=""))
    finished = set(Enrollment.objects.filter(user__in=people, course__in={a.course_id for a in assignments},
                                             completed_at__isnull=False).values_list("user_id", "course_id"))
    due: dict[User, list] = defaultdict(list)
    for person in people:
        seen = set()
        for a in assignments:
            applies = a.user_id == person.pk or (a.team_id and a.team_id == person.team_id)
            if applies and (person.pk, a.course_id) not in finished and a.course_id not in seen:
                seen.add(a.course_id)
                due[person].append(a)
    return dict(due)


def overdue_digests(*, today: dt.date) -> dict[User, list[tuple[User, Course, dt.date]]]:
    """Each manager → the overdue (person, course, due date) items in the teams they manage."""
    teams = list(Team.objects.filter(managers__isnull=False).distinct())
    people = list(User.objects.filter(team__in=teams, is_active=True).select_related("team"))
    courses = list(Course.objects.filter(published=True))
    overdue = assignment_overdue(people=people, courses=courses, today=today)
    person_by_id = {p.pk: p for p in people}
    course_by_id = {c.pk: c for c in courses}
    managers = defaultdict(set)
    for team_id, manager_id in Team.managers.through.objects.filter(team__in=teams).values_list("team_id", "user_id"):
        managers[team_id].add(manager_id)
    # Only current managers (core.policy: the role and the team both count).
    manager_objs = {m.pk: m for m in User.objects.filter(pk__in={m for ms in managers.values() for m in ms},
                                                          is_active=True, role=Role.MANAGER).exclude(email="")}
    digests: dict[User, list] = defaultdict(list)
    for (user_id, course_id), due in sorted(overdue.items(), key=lambda kv: (kv[1], kv[0])):
        person = person_by_id[user_id]
        for manager_id in managers.get(person.team_id, ()):
            if manager_id in manager_objs and manager_id != user_id:
                digests[manager_objs[manager_id]].append((person, course_by_id[course_id], due))
    return dict(digests)


# --- One person ------------------------------------------------------------------


def _quota(person: User) -> dict:
    """The person's fine-tune quota and what they used of it in the last 7 days
    (the same sum the quota check in training.services uses)."""
    quota = Quota.objects.filter(user=person).first() or Quota(user=person)
    used = usage_seconds(user=person)
    limit = quota.effective_gpu_seconds_per_week
    active = FineTuneJob.objects.filter(user=person, status__in=ACTIVE).count()
    return {"gpu_seconds_used": used, "gpu_seconds_limit": limit,
            "percent": round(100 * used / limit) if limit else 0,
            "active_jobs": active, "max_concurrent": quota.effective_max_concurrent}


def person_detail(*, person: User, today: dt.date | None = None) -> dict:
    """A person's lessons, attempts, certificates, assignments and playground use."""
    runs = PlaygroundRun.objects.filter(user=person)
    usage = runs.aggregate(runs=Count("id"), tokens=Sum("completion_tokens"), compute=Sum("compute_seconds"),
                           prompt_tokens=Sum("prompt_tokens"))
    jobs = _job_stats(users=Q(user=person), window=Q(), by="user_id")
    return {
        "person": person,
        "progress": list(LessonProgress.objects.filter(user=person).select_related("lesson__course")
                         .defer("lesson__body", "lesson__body_html").order_by("-last_viewed_at")),
        "attempts": list(Attempt.objects.filter(user=person).select_related("quiz__course")
                         .only("number", "status", "score", "passed", "started_at", "submitted_at",
                               "quiz__title", "quiz__slug", "quiz__course__slug", "quiz__course__title")
                         .order_by("-started_at")),
        "certificates": list(Certificate.objects.filter(user=person).select_related("course")),
        "assignments": assignments_for(user=person, today=today),
        "usage": {k: v or 0 for k, v in usage.items()},
        "runs": list(runs.defer("tokens", "output", "params")[:50]),
        "jobs": jobs.get(person.pk, (0, 0.0)),
        "job_list": list(FineTuneJob.objects.filter(user=person).only(
            "name", "kind", "status", "created_at", "gpu_seconds", "device")[:50]),
        "quota": _quota(person),
        "limits": {"max_new_tokens": settings.LLM_MAX_NEW_TOKENS,
                   "max_prompt_tokens": settings.LLM_MAX_PROMPT_TOKENS,
                   "max_concurrent": settings.LLM_MAX_CONCURRENT_PER_USER},
    }


# --- Exports ---------------------------------------------------------------------------


def export_job_get(*, viewer: User, job_id: int) -> ExportJob:
    """Only the person who asked for an export may see or download it."""
    job = ExportJob.objects.filter(pk=job_id, requested_by=viewer).first()
    if job is None:
        raise Http404
    return job


MATRIX_HEADER = ["team", "username", "name", "course", "lesson", "status", "completed_at",
                 "time_spent_seconds", "best_score", "passed"]
ATTEMPTS_HEADER = ["team", "username", "name", "course", "quiz", "number", "status", "score", "passed",
                   "started_at", "submitted_at"]


def _export_scope(*, viewer: User, team_ids: list[int] | None) -> list[Team]:
    teams = teams_for(viewer=viewer)
    return [t for t in teams if t.pk in team_ids] if team_ids else teams


def export_row_count(*, viewer: User, kind: str, team_ids: list[int] | None, filters: Filters) -> int:
    teams = _export_scope(viewer=viewer, team_ids=team_ids)
    if kind == "matrix":
        people = User.objects.filter(team__in=teams, is_active=True).count()
        return people * sum(c.lesson_count for c in filters.courses)
    return Attempt.objects.filter(filters.window("started_at"), user__team__in=teams, user__is_active=True,
                                  quiz__course_id__in=filters.course_ids).count()


def _iso(value) -> str:
    return value.isoformat() if value else ""


def export_rows(*, viewer: User, kind: str, team_ids: list[int] | None, filters: Filters,
                chunk: int = 2000) -> Iterable[list]:
    """CSV rows, each made safe to open in a spreadsheet (core.spreadsheet); both the
    streamed export and the background one write exactly these."""
    for row in _export_rows(viewer=viewer, kind=kind, team_ids=team_ids, filters=filters, chunk=chunk):
        yield safe_row(row)


def _export_rows(*, viewer: User, kind: str, team_ids: list[int] | None, filters: Filters,
                 chunk: int = 2000) -> Iterable[list]:
    """CSV rows (header first) of the matrix (one per person × lesson) or of attempts,
    within the viewer's scope. The matrix goes team by team, so memory stays bounded."""
    teams = _export_scope(viewer=viewer, team_ids=team_ids)
    if kind == "matrix":
        yield MATRIX_HEADER
        for team in teams:
            people = team_members(team=team)
            for course in filters.courses:
                _lessons, cells = lesson_matrix(people=people, course=course)
                for person in people:
                    for cell in cells[person.pk]:
                        yield [team.name, person.username, person.display_name, course.slug, cell.lesson.slug,
                               cell.status, _iso(cell.completed_at), cell.time_spent_seconds,
                               "" if cell.score is None else f"{cell.score:g}",
                               "" if cell.passed is None else ("yes" if cell.passed else "no")]
        return
    yield ATTEMPTS_HEADER
    qs = (Attempt.objects.filter(filters.window("started_at"), user__team__in=teams, user__is_active=True,
                                 quiz__course_id__in=filters.course_ids)
          .select_related("user__team", "quiz__course")
          .only("number", "status", "score", "passed", "started_at", "submitted_at", "user__username",
                "user__name", "user__first_name", "user__last_name", "user__team__name", "quiz__slug",
                "quiz__course__slug")
          .order_by("user__team__name", "user__username", "started_at", "id"))
    for a in qs.iterator(chunk_size=chunk):
        yield [a.user.team.name, a.user.username, a.user.display_name, a.quiz.course.slug, a.quiz.slug, a.number,
               a.status, "" if a.score is None else f"{a.score:g}",
               "" if a.passed is None else ("yes" if a.passed else "no"), _iso(a.started_at), _iso(a.submitted_at)]

