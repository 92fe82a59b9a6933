"""The Celery side of fine-tunes: one task, "a slot is free on this queue".

The message does not carry the job to run: when the task starts it claims the
fairest queued job from the DB (runner.job_claim_next). Each submission sends one
trigger, recovery sends one per requeued job, and a spare trigger finds nothing to
do. See docs/DECISIONS.md ("Fine-tunes: the message is a slot, the DB picks the job").
"""

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from . import runner
from .models import FineTuneJob


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=settings.TRAINING_SOFT_TIME_LIMIT,
    time_limit=settings.TRAINING_HARD_TIME_LIMIT,
)
def training_run_slot(self, job_id: int) -> None:
    queue_name = (FineTuneJob.objects.filter(pk=job_id).values_list("queue_name", flat=True).first()
                  or (self.request.delivery_info or {}).get("routing_key") or settings.TRAINING_QUEUE)
    runner.jobs_recover_stale()
    job = runner.job_claim_next(queue_name=queue_name, hostname=self.request.hostname or "")
    if job is None:
        return
    try:
        runner.job_execute(job_id=job.pk, attempt=job.attempts)
    except SoftTimeLimitExceeded:
        runner.job_fail_interrupted(job_id=job.pk, attempt=job.attempts,
                                      reason=f"Celery's time limit of {settings.TRAINING_SOFT_TIME_LIMIT} s was reached.")
    except Exception as exc:
        runner.job_fail_interrupted(job_id=job.pk, attempt=job.attempts, reason=f"{type(exc).__name__}: {exc}")
        raise


@shared_task(ignore_result=True)
def training_recover_stale() -> None:
    """Celery beat runs this once per heartbeat interval (CELERY_BEAT_SCHEDULE): a job
    whose worker or pool process died is requeued or failed without waiting for a
    new submission or a worker restart."""
    runner.jobs_recover_stale()
