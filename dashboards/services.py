"""Writes for dashboards: assignments, reminder emails, and CSV export jobs."""

from __future__ import annotations

import csv
import datetime as dt
import logging
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Team, User
from audit.services import SYSTEM, Origin, audit_record
from core import policy
from courseapp.models import Course

from . import exports, reminders
from .models import Assignment, ExportJob, ExportStatus, ReminderKind, ReminderLog

log = logging.getLogger(__name__)


def _save(obj):
    obj.full_clean()
    obj.save()
    return obj


# --- Assignments ---------------------------------------------------------------------


def _may_assign_to(*, assigned_by: User, team: Team | None, user: User | None) -> bool:
    team_id = team.pk if team else (user.team_id if user else None)
    return policy.may_administer(assigned_by) or policy.may_manage_team(assigned_by, team_id)


@transaction.atomic
def assignment_create(*, assigned_by: User, course: Course, due_date: dt.date, team: Team | None = None,
                      user: User | None = None) -> Assignment:
    """Assign a course to a team or to one person, or move the due date of an existing
    assignment. Managers may assign only within the teams they manage."""
    if (team is None) == (user is None):
        raise ValidationError(_("Assign the course to a team or to one employee."))
    if not _may_assign_to(assigned_by=assigned_by, team=team, user=user):
        raise PermissionDenied
    if not course.published:
        raise ValidationError(_("Only a published course can be assigned."))
    assignment = (Assignment.objects.select_for_update().filter(course=course, team=team, user=user).first()
                  or Assignment(course=course, team=team, user=user))
    assignment.due_date = due_date
    assignment.assigned_by = assigned_by
    return _save(assignment)


def assignment_delete(*, deleted_by: User, assignment: Assignment) -> None:
    if not _may_assign_to(assigned_by=deleted_by, team=assignment.team, user=assignment.user):
        raise PermissionDenied
    assignment.delete()


# --- Reminders -------------------------------------------------------------------------


def _claim(*, user: User, kind: str, day: dt.date, assignment: Assignment | None = None) -> bool:
    """Record a reminder as sent; False when one was already recorded for that day
    (the unique constraint decides, so concurrent runs can't both claim it)."""
    try:
        with transaction.atomic():
            ReminderLog.objects.create(user=user, kind=kind, date=day, assignment=assignment)
    except IntegrityError:
        return False
    return True


def _send(*, to: User, subject: str, template: str, context: dict) -> None:
    body = render_to_string(template, context | {"person": to})
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to.email])


def reminders_send(*, now: dt.datetime) -> dict[str, int]:
    """Send today's reminders: one email per employee listing their assignments due
    within REMINDER_DAYS_BEFORE days, and one digest per manager of their teams'
    overdue items. `now` is injected so tests can freeze the clock. Each reminder is
    claimed in ReminderLog before sending, so a second run on the same day sends none
    (at most once: a failed send is not retried that day)."""
    today = timezone.localdate(now)
    sent = {"due_soon": 0, "overdue_digest": 0}
    with translation.override(settings.LANGUAGE_CODE):
        for person, assignments in reminders.reminders_due(today=today).items():
            claimed = [a for a in assignments
                       if _claim(user=person, kind=ReminderKind.DUE_SOON, day=today, assignment=a)]
            if not claimed:
                continue
            items = [{"course": a.course, "due_date": a.due_date, "days_left": (a.due_date - today).days}
                     for a in claimed]
            _send(to=person, subject=_("Reminder: assigned courses due soon"),
                  template="dashboards/email/due_soon.txt", context={"items": items, "today": today})
            sent["due_soon"] += 1
        for manager, items in reminders.overdue_digests(today=today).items():
            if not _claim(user=manager, kind=ReminderKind.OVERDUE_DIGEST, day=today):
                continue
            rows = [{"person": p, "course": c, "due_date": due, "days_late": (today - due).days}
                    for p, c, due in items]
            _send(to=manager, subject=_("Overdue assignments in your teams"),
                  template="dashboards/email/overdue_digest.txt", context={"items": rows, "today": today})
            sent["overdue_digest"] += 1
    return sent


# --- Exports ---------------------------------------------------------------------------


@transaction.atomic
def export_job_create(*, requested_by: User, kind: str, params: dict, origin: Origin = SYSTEM) -> ExportJob:
    """Record an export (and its audit entry) and enqueue its job once the row is committed."""
    from .tasks import export_job_run as task

    job = _save(ExportJob(requested_by=requested_by, kind=kind, params=params))
    audit_record(action="export.requested", origin=origin, target=job, after={"kind": kind, "params": params})
    transaction.on_commit(lambda: task.delay(job.pk))
    return job


def export_downloaded(*, kind: str, params: dict, origin: Origin, job: ExportJob | None = None) -> None:
    """Someone takes a copy of people's records out of the site: one audit entry per
    download (a background job's file, or a small export streamed at once)."""
    target = job or ("export", "", kind)
    audit_record(action="export.downloaded", origin=origin, target=target,
                 after={"kind": kind, "params": params, "job": job.pk if job else None})


def export_write(*, viewer: User, kind: str, params: dict, path: Path) -> int:
    """Write the CSV to `path` (through a temporary file, so a half-written export is
    never offered); returns the number of data rows."""
    team_ids, filters = exports.export_filters(viewer=viewer, params=params)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    count = -1  # the header is not a data row
    with partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        for row in exports.export_rows(viewer=viewer, kind=kind, team_ids=team_ids, filters=filters):
            writer.writerow(row)
            count += 1
    partial.replace(path)
    return count


def export_job_run(*, job_id: int) -> ExportJob:
    """Build an export job's file. The requester's scope is applied now, not when asked."""
    updated = ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(status=ExportStatus.RUNNING)
    job = ExportJob.objects.select_related("requested_by").get(pk=job_id)
    if not updated:  # already run (a redelivery): the row says what happened
        return job
    try:
        # Built on this (worker) host's disk, then put in the default storage (the object
        # store in production), where any web host reads it; file_path is its storage name.
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"export-{job.pk}-{job.kind}.csv"
            job.row_count = export_write(viewer=job.requested_by, kind=job.kind, params=job.params, path=path)
            with path.open("rb") as f:
                job.file_path = default_storage.save(f"exports/{path.name}", File(f, name=path.name))
    except Exception as exc:
        log.exception("Export job %s failed", job.pk)
        job.status, job.error, job.file_path = ExportStatus.FAILED, str(exc)[:2000], ""
    else:
        job.status = ExportStatus.DONE
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error", "file_path", "row_count", "finished_at"])
    return job
