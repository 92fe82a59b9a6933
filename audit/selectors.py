"""Reads of the audit log: the filtered entries that the log page shows and its CSV holds."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from core.spreadsheet import safe_row

from .models import AuditEntry


@dataclass(frozen=True)
class LogFilters:
    action: str = ""  # an exact action, or a noun ("quota") for all of its verbs
    actor: str = ""  # part of the actor's name, as recorded
    target: str = ""  # part of the object's label, or its type
    source: str = ""
    start: dt.date | None = None
    end: dt.date | None = None  # inclusive


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def audit_entries(*, filters: LogFilters) -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.all()
    if filters.action:
        qs = qs.filter(Q(action=filters.action) | Q(action__startswith=filters.action.rstrip(".") + "."))
    if filters.actor:
        qs = qs.filter(actor_label__icontains=filters.actor)
    if filters.target:
        qs = qs.filter(Q(target_label__icontains=filters.target) | Q(target_type__icontains=filters.target))
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.start:
        qs = qs.filter(at__gte=_day_start(filters.start))
    if filters.end:
        qs = qs.filter(at__lt=_day_start(filters.end + dt.timedelta(days=1)))
    return qs.order_by("-at", "-id")


def audit_actions() -> list[str]:
    """Every action the log holds, for the filter's choices."""
    return sorted(AuditEntry.objects.values_list("action", flat=True).distinct())


CSV_HEADER = ["at", "action", "source", "actor", "address", "token", "object_type", "object_id", "object",
              "before", "after"]


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def audit_csv_rows(*, filters: LogFilters, chunk: int = 2000) -> Iterable[list]:
    """The filtered log as CSV rows (header first), each cell safe in a spreadsheet."""
    yield CSV_HEADER
    for e in audit_entries(filters=filters).iterator(chunk_size=chunk):
        yield safe_row([e.at.isoformat(), e.action, e.source, e.actor_label, e.address or "", e.token,
                        e.target_type, e.target_id, e.target_label, _json(e.before), _json(e.after)])


# Actions that put a version of a course in front of learners (courseapp.authoring).
PUBLISHING = ("course.imported", "course.published", "lesson.published", "quiz.published", "question.published",
              "course.unpublished", "lesson.unpublished", "quiz.unpublished", "question.unpublished")


def course_versions(*, course_ids: Iterable[int]) -> dict[int, list[tuple[dt.datetime, dt.datetime]]]:
    """{course id: [(when, the course content's version then), ...]} from the log's
    publishing entries, oldest first: which version learners saw at a past moment."""
    wanted, found = set(course_ids), {}
    for at, after in (AuditEntry.objects.filter(action__in=PUBLISHING).order_by("at", "id")
                      .values_list("at", "after")):
        course_id = (after or {}).get("course_id")
        if course_id in wanted and after.get("course_version"):
            found.setdefault(course_id, []).append((at, dt.datetime.fromisoformat(after["course_version"])))
    return found
