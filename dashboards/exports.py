"""Selectors for CSV exports: their scope, size and rows. The same reads run in the
web process (a small export streams back) and in Celery (`export_job_run`), so a
refusal is `core.errors.NotFound`, never an HTTP exception."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from accounts.models import Team, User
from core.errors import NotFound
from core.spreadsheet import safe_row
from courseapp.models import Attempt

from .filters import Filters
from .models import ExportJob, ExportStatus
from .scope import courses_for, teams_for
from .selectors import lesson_matrix, team_members


def export_job_get(*, viewer: User, job_id: int) -> ExportJob:
    """Only the person who asked for an export may see or download it (else NotFound)."""
    job = ExportJob.objects.filter(pk=job_id, requested_by=viewer).first()
    if job is None:
        raise NotFound
    return job


def export_download_get(*, viewer: User, job_id: int) -> ExportJob:
    """The viewer's finished export, whose file may be downloaded (else NotFound)."""
    job = export_job_get(viewer=viewer, job_id=job_id)
    if job.status != ExportStatus.DONE or not job.file_path:
        raise NotFound
    return job


def export_filters(*, viewer: User, params: dict) -> tuple[list[int] | None, Filters]:
    """Rebuild the scope and filters of an export from its stored params."""
    courses = [c for c in courses_for(viewer=viewer) if not params.get("course") or c.pk == params["course"]]
    start = dt.date.fromisoformat(params["start"]) if params.get("start") else None
    end = dt.date.fromisoformat(params["end"]) if params.get("end") else None
    team_ids = [params["team"]] if params.get("team") else None
    return team_ids, Filters(courses=tuple(courses), start=start, end=end)


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
    return Attempt.objects.filter(filters.window("started_at"), user__team__in=teams,
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
    # The attempts are history: a leaver's (deactivated, never erased) stay in them. The
    # matrix is the team as it is now, its current members.
    qs = (Attempt.objects.filter(filters.window("started_at"), user__team__in=teams,
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
