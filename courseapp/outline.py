"""A course outline for one learner: modules, lessons and quizzes in order, each
with the learner's state (done, locked and by what, best score). Built by
selectors.course_outline; the lock rule is read from here by the pages and the
services alike."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

from .models import Certificate, Course, Enrollment, Lesson, LessonProgress, Module, Quiz


@dataclass
class Item:
    """A lesson or quiz in a course outline, with the learner's state."""

    kind: str  # "lesson" | "quiz"
    obj: Lesson | Quiz
    done: bool = False
    locked_by: list = field(default_factory=list)  # the Items that must be done first
    preview_locks: list = field(default_factory=list)  # for admins: what would lock it for a learner
    best_score: float | None = None
    attempts_used: int = 0
    current: bool = False

    @property
    def slug(self) -> str:
        return self.obj.slug

    @property
    def title(self) -> str:
        return self.obj.title_text

    @property
    def locked(self) -> bool:
        return bool(self.locked_by)

    @property
    def url(self) -> str:
        return self.obj.get_absolute_url()

    @property
    def published(self) -> bool:
        return self.obj.published


@dataclass
class ModuleOutline:
    module: Module
    items: list[Item]

    @property
    def done_count(self) -> int:
        return sum(i.done for i in self.items)


@dataclass
class Outline:
    course: Course
    modules: list[ModuleOutline]
    exams: list[Item]
    items: list[Item]
    enrollment: Enrollment | None
    user: object = None
    time_spent_seconds: int = 0
    progress: dict = field(default_factory=dict)  # lesson id → the user's LessonProgress

    @cached_property
    def certificate(self) -> Certificate | None:
        """Read only by the pages that show it (not the lesson page)."""
        return Certificate.objects.filter(user=self.user, course=self.course).first()

    @property
    def done_count(self) -> int:
        return sum(i.done for i in self.items)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def percent(self) -> int:
        return round(100 * self.done_count / self.total) if self.total else 0

    @property
    def started(self) -> bool:
        return self.enrollment is not None

    @property
    def complete(self) -> bool:
        return bool(self.items) and self.done_count == self.total

    @property
    def total_minutes(self) -> int:
        return sum(i.obj.duration_minutes for i in self.items if i.kind == "lesson")

    @property
    def resume_item(self) -> Item | None:
        """Where to go on: the last lesson viewed if unfinished, else the first open item."""
        last_id = self.enrollment.last_lesson_id if self.enrollment else None
        for item in self.items:
            if item.kind == "lesson" and item.obj.pk == last_id and not item.done:
                return item
        return next((i for i in self.items if not i.done and not i.locked), None)

    @cached_property
    def fragment_key(self) -> str:
        """Everything partials/outline.html and the lesson page's cached parts show, except
        the language: the course content (its id and updated_at), which modules and items
        this user sees, and each item's state for this user. Two requests with the same key
        get the same HTML (the tag {% cache %} adds the language), so a cached fragment
        holds nothing else per user. Read when the page renders, after the view has marked
        the current item."""
        state = (self.course.pk, self.course.updated_at.timestamp(), [m.module.pk for m in self.modules],
                 [(i.kind, i.obj.pk, i.done, i.locked, bool(i.preview_locks), i.best_score, i.attempts_used,
                   i.current) for i in self.items])
        return hashlib.sha256(repr(state).encode()).hexdigest()

    def find(self, kind: str, slug: str) -> Item | None:
        return next((i for i in self.items if i.kind == kind and i.slug == slug), None)

    def neighbours(self, item: Item) -> tuple[Item | None, Item | None]:
        index = self.items.index(item)
        previous = self.items[index - 1] if index > 0 else None
        following = self.items[index + 1] if index + 1 < len(self.items) else None
        return previous, following


@dataclass
class UserState:
    """One user's rows for one course: progress by lesson id, attempts, enrollment."""

    progress: dict[int, LessonProgress]
    attempts: list[tuple[int, str, float | None, bool | None]]  # (quiz id, status, score, passed)
    enrollment: Enrollment | None
