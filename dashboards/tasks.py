"""Celery tasks: thin wrappers that take ids and call a service."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task
def export_job_run(job_id: int) -> None:
    services.export_job_run(job_id=job_id)


@shared_task
def reminders_send_daily() -> dict:
    """Run by Celery beat once a day (CELERY_BEAT_SCHEDULE)."""
    return services.reminders_send(now=timezone.now())
