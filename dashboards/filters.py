"""What a dashboard shows: the filters every statistic and export is computed under."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from courseapp.models import Course


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
