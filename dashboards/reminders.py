"""Selectors for assignments: what is due or overdue, for a person (My progress), for
the daily reminders and for the managers' overdue digests."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import Role, Team, User
from courseapp.models import Course, Enrollment

from .models import Assignment


def overdue_pairs(*, members: dict[int, int], assignments: list[dict], finished: set[tuple[int, int]],
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
    return overdue_pairs(members=members, assignments=assignments, finished=finished, today=today)


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
