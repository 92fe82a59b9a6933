"""Selectors for one person: the drill-down page a manager opens and an employee's own
"My progress" (the same page)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import Count, Q, Sum

from accounts.models import User
from courseapp.models import Attempt, Certificate, LessonProgress
from playground.models import PlaygroundRun
from training.models import FineTuneJob
from training.selectors import quota_use

from .reminders import assignments_for
from .selectors import job_stats


def person_detail(*, person: User, today: dt.date | None = None) -> dict:
    """A person's lessons, attempts, certificates, assignments and playground use."""
    runs = PlaygroundRun.objects.filter(user=person)
    usage = runs.aggregate(runs=Count("id"), tokens=Sum("completion_tokens"), compute=Sum("compute_seconds"),
                           prompt_tokens=Sum("prompt_tokens"))
    jobs = job_stats(users=Q(user=person), window=Q(), by="user_id")
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
        "quota": quota_use(user=person),  # the same reading the submission check makes
        "limits": {"max_new_tokens": settings.LLM_MAX_NEW_TOKENS,
                   "max_prompt_tokens": settings.LLM_MAX_PROMPT_TOKENS,
                   "max_concurrent": settings.LLM_MAX_CONCURRENT_PER_USER},
    }
