"""Celery tasks: thin wrappers that call a service."""

from celery import shared_task

from .services import audit_purge_expired


@shared_task
def audit_purge_daily() -> int:
    """Run by Celery beat once a day (CELERY_BEAT_SCHEDULE): drop entries past AUDIT_RETENTION_DAYS."""
    return audit_purge_expired()
