"""Assignments of courses to teams or people, the reminders sent about them, and
CSV exports prepared in the background (the job row is the truth)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Assignment(models.Model):
    """A course someone must finish by a date: for a whole team, or one person."""

    course = models.ForeignKey("courseapp.Course", on_delete=models.CASCADE, related_name="assignments",
                               verbose_name=_("course"))
    team = models.ForeignKey("accounts.Team", on_delete=models.CASCADE, null=True, blank=True,
                             related_name="assignments", verbose_name=_("team"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="assignments", verbose_name=_("employee"))
    due_date = models.DateField(_("due date"))
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                    related_name="+", verbose_name=_("assigned by"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=False, user__isnull=True) | Q(team__isnull=True, user__isnull=False),
                name="assignment_team_xor_user",
            ),
            models.UniqueConstraint(fields=["course", "team"], condition=Q(team__isnull=False),
                                    name="assignment_once_per_team"),
            models.UniqueConstraint(fields=["course", "user"], condition=Q(user__isnull=False),
                                    name="assignment_once_per_user"),
        ]
        indexes = [models.Index(fields=["due_date"])]

    def __str__(self):
        return f"{self.course} → {self.team or self.user} ({self.due_date})"


class ReminderKind(models.TextChoices):
    DUE_SOON = "due_soon", _("Due soon")
    OVERDUE_DIGEST = "overdue_digest", _("Overdue digest")


class ReminderLog(models.Model):
    """One reminder sent: the unique constraints make "never twice a day" hold even
    when two beat runs overlap. A digest concerns many assignments, so it has none."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="reminders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    date = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["assignment", "user", "kind", "date"],
                                    condition=Q(assignment__isnull=False), name="reminder_once_a_day"),
            models.UniqueConstraint(fields=["user", "kind", "date"], condition=Q(assignment__isnull=True),
                                    name="digest_once_a_day"),
        ]

    def __str__(self):
        return f"{self.kind} → {self.user} ({self.date})"


class ExportKind(models.TextChoices):
    MATRIX = "matrix", _("Lesson matrix")
    ATTEMPTS = "attempts", _("Quiz attempts")


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Ready")
    FAILED = "failed", _("Failed")


class ExportJob(models.Model):
    """A CSV export too large to build inside a request. The worker re-applies the
    requester's scope when it runs, so a manager removed from a team meanwhile gets
    no rows from it."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exports")
    kind = models.CharField(max_length=16, choices=ExportKind.choices)
    params = models.JSONField(default=dict, blank=True)  # {team, course, start, end} as ids / ISO dates
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    file_path = models.CharField(max_length=500, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} export #{self.pk} ({self.status})"

    def get_absolute_url(self):
        return reverse("dashboards:export", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportStatus.DONE, ExportStatus.FAILED)
