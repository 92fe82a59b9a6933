"""Celery worker start-up: never leave a phantom "running" job behind.

A worker that died (kill -9, power loss) left its jobs "running"; when a worker with
the same name starts again, or any worker starts and finds a job whose heartbeat has
gone stale, the job is requeued (attempts left) or failed with a reason.
"""

import logging

from celery.signals import worker_ready

logger = logging.getLogger(__name__)


@worker_ready.connect
def recover_jobs_on_worker_start(sender=None, **kwargs):
    from .runner import worker_startup_recover

    hostname = getattr(sender, "hostname", "") or ""
    try:
        recovered = worker_startup_recover(hostname=hostname)
    except Exception:  # a worker must start even if the DB hiccups; the next start retries
        logger.exception("Fine-tune recovery at worker start failed")
        return
    if recovered:
        logger.warning("Recovered %d fine-tune job(s) left running: %s", len(recovered), recovered)
