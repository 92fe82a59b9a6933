"""The Celery side of a fine-tune: the fair claim, running one attempt in a child
process, its progress, how it finished, and recovery after a worker died.

The job row is the truth. Every write made on behalf of a running attempt filters on
(status=running, attempts=<that attempt>), so a runner that lost its job (requeued by
recovery, say) can never overwrite the newer attempt's state.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from .models import FineTuneJob, JobKind, JobMetric, JobStatus
from .selectors import base_model_path, fair_queue, job_rows, jobs_stale
from .services import job_enqueue, log

logger = logging.getLogger(__name__)


def job_claim_next(*, queue_name: str, hostname: str) -> FineTuneJob | None:
    """Atomically move the fairest queued job of `queue_name` to running on `hostname`."""
    with transaction.atomic():
        candidate = fair_queue(queue_name=queue_name).select_for_update(skip_locked=True, of=("self",)).first()
        if candidate is None:
            return None
        now = timezone.now()
        claimed = FineTuneJob.objects.filter(pk=candidate.pk, status=JobStatus.QUEUED).update(
            status=JobStatus.RUNNING, attempts=F("attempts") + 1, worker_hostname=hostname, started_at=now,
            heartbeat_at=now, child_pid=None, device="", failure_reason="", steps_done=0, last_loss=None)
        if not claimed:
            return None
    job = FineTuneJob.objects.get(pk=candidate.pk)
    log(job.pk, f"attempt {job.attempts} started on {hostname}")
    return job



# --- progress, written while the child runs -------------------------------------------
def _attempt(job_id: int, attempt: int):
    return FineTuneJob.objects.filter(pk=job_id, attempts=attempt, status=JobStatus.RUNNING)


def job_child_started(*, job_id: int, attempt: int, pid: int) -> None:
    _attempt(job_id, attempt).update(child_pid=pid, heartbeat_at=timezone.now())


def job_heartbeat(*, job_id: int, attempt: int, gpu_seconds: float) -> bool:
    """Returns whether the attempt still owns the job."""
    return bool(_attempt(job_id, attempt).update(heartbeat_at=timezone.now(), gpu_seconds=gpu_seconds))


def job_cancel_requested(*, job_id: int) -> bool:
    return FineTuneJob.objects.filter(pk=job_id, cancel_requested=True).exists()


def job_progress_record(*, job_id: int, attempt: int, event: dict, elapsed: float) -> None:
    """Store one event from the training child."""
    kind = event.get("type")
    if kind == "progress":
        if _attempt(job_id, attempt).update(steps_done=event["step"], last_loss=event["loss"], steps_total=event["steps"]):
            JobMetric.objects.get_or_create(job_id=job_id, attempt=attempt, step=event["step"], defaults={
                "loss": event["loss"], "lr": event["lr"], "tokens": event.get("tokens", 0),
                "tokens_per_second": event.get("tokens_per_second", 0.0), "elapsed": round(elapsed, 3)})
    elif kind == "started":
        _attempt(job_id, attempt).update(device=event["device"])
        log(job_id, f"training process on {event['device']} ({event.get('torch_threads')} CPU threads, "
                    f"{event.get('policy', '?')}, nice {event.get('nice', '?')})")
    elif kind == "eval":
        field = "eval_before" if event["phase"] == "before" else "eval_after"
        _attempt(job_id, attempt).update(**{field: event["metrics"]})
        log(job_id, f"eval {event['phase']}: " + ", ".join(
            f"{k}={v}" for k, v in event["metrics"].items() if k in ("perplexity", "accuracy", "loss", "rows")))
    elif kind == "log":
        log(job_id, event["message"])
    elif kind == "error":
        log(job_id, "error: " + event["message"])


def job_finish(*, job_id: int, attempt: int, status: str, reason: str = "", result: dict | None = None,
               run_seconds: float = 0.0, gpu_seconds: float | None = None,
               output_path: str = "") -> FineTuneJob | None:
    """Record how an attempt ended; returns the job, or None if the attempt lost it.
    `gpu_seconds` is the job's total over all its attempts (None: as last recorded)."""
    now = timezone.now()
    with transaction.atomic():
        job = FineTuneJob.objects.select_for_update().filter(pk=job_id, attempts=attempt,
                                                             status=JobStatus.RUNNING).first()
        if job is None:
            return None
        job.status = status
        job.failure_reason = reason if status != JobStatus.SUCCEEDED else ""
        job.finished_at = now
        job.child_pid = None
        if gpu_seconds is not None:
            job.gpu_seconds = round(gpu_seconds, 3)
        job.wall_seconds = round((now - job.created_at).total_seconds(), 3)
        job.result = result or {}
        job.output_path = output_path if status == JobStatus.SUCCEEDED else ""
        job.save()
        log(job.pk, f"{status}" + (f": {reason.splitlines()[0]}" if reason else "") +
            f" after {run_seconds:.1f} s on {job.device or 'an unknown device'}")
        if status == JobStatus.SUCCEEDED and job.kind == JobKind.CAUSAL_LM:
            # In the same transaction, so nobody sees "succeeded" before the model is in the playground.
            _register_or_explain(job)
    return job


def _register_or_explain(job: FineTuneJob) -> None:
    try:
        with transaction.atomic():  # a savepoint: a failed registration leaves the finish standing
            job.registered_model = job_register_model(job=job)
    except Exception as exc:  # the fine-tune itself succeeded; say why it is not in the playground
        logger.exception("Registering job %s in the playground failed", job.pk)
        log(job.pk, f"could not register the model in the playground: {exc}")


def job_register_model(*, job: FineTuneJob) -> str:
    """Offer a succeeded causal-LM job's model in its owner's playground. Its weights
    are the stored artifact (job.output_path); model workers fetch them on first use."""
    from playground.services import model_register_finetune

    name = slugify(f"ft-{job.pk}-{job.user.username}")[:100]
    adapter = job.output_path if job.method == "lora" else ""
    weights = job.output_path if job.method == "full" else ""
    entry = model_register_finetune(owner=job.user, name=name, display_name=f"{job.name} (fine-tune #{job.pk})",
                                    base_name=job.base_model, adapter_path=adapter, weights_path=weights)
    FineTuneJob.objects.filter(pk=job.pk).update(registered_model=entry.name)
    log(job.pk, f"registered in the playground as {entry.name}")
    return entry.name


# --- recovery -----------------------------------------------------------------------------
def _recover(job: FineTuneJob, why: str) -> str:
    """Requeue (attempts left) or fail one job whose runner is gone; returns the new status."""
    if job.attempts < settings.TRAINING_MAX_ATTEMPTS:
        updated = FineTuneJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
            status=JobStatus.QUEUED, worker_hostname="", child_pid=None, cancel_requested=False)
        if updated:
            log(job.pk, f"{why} during attempt {job.attempts}; requeued")
            transaction.on_commit(lambda: job_enqueue(job_id=job.pk, queue_name=job.queue_name))
            return JobStatus.QUEUED
        return job.status
    reason = f"{why} during attempt {job.attempts}; gave up after {job.attempts} attempt(s)."
    updated = FineTuneJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, attempts=job.attempts).update(
        status=JobStatus.FAILED, failure_reason=reason, finished_at=timezone.now(), child_pid=None)
    if updated:
        log(job.pk, reason)
    return JobStatus.FAILED


def worker_startup_recover(*, hostname: str) -> dict[int, str]:
    """At a worker's start: its own "running" jobs are dead (it just started), and so
    is any job whose heartbeat went stale. A cancel that was pending ends as cancelled."""
    out = {}
    with transaction.atomic():
        mine = FineTuneJob.objects.filter(status=JobStatus.RUNNING, worker_hostname=hostname) if hostname else None
        old = jobs_stale()
        jobs = {j.pk: j for j in (list(mine) if mine is not None else []) + list(old)}
        for job in jobs.values():
            why = (f"worker {job.worker_hostname} restarted" if job.worker_hostname == hostname
                   else f"worker {job.worker_hostname or '?'} stopped sending heartbeats")
            if job.cancel_requested:
                FineTuneJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                    status=JobStatus.CANCELLED, finished_at=timezone.now(), child_pid=None)
                log(job.pk, f"{why}; the pending cancel is final")
                out[job.pk] = JobStatus.CANCELLED
                continue
            out[job.pk] = _recover(job, why)
    return out


def jobs_recover_stale() -> dict[int, str]:
    """Same as at start-up, for stale heartbeats only (any worker may call it)."""
    return worker_startup_recover(hostname="")



# --- running one attempt (inside the Celery task) ------------------------------------------
def host_training_policy():
    """This host's resource policy for a training child, from the settings (0: derived)."""
    from playground.ml.resources import training_policy

    return training_policy(threads=settings.TRAINING_CPU_THREADS, priority=settings.TRAINING_CPU_PRIORITY,
                           passive_wait=settings.TRAINING_OMP_PASSIVE,
                           cuda_memory_fraction=settings.TRAINING_CUDA_MEMORY_FRACTION)


def job_output_dir(job: FineTuneJob) -> Path:
    return Path(settings.VAR_DIR) / "training" / "jobs" / str(job.pk) / f"attempt-{job.attempts}"


def job_execute(*, job_id: int, attempt: int) -> FineTuneJob | None:
    """Run a claimed attempt in a child process and record everything it reports.

    torch is never imported here: the worker's parent process stays free of CUDA,
    and the child gives all its memory back when it exits.
    """
    from playground.ml.resources import training_child_env

    from .ml.runner import SUCCEEDED, TrainingChild, supervise
    from .ml.train import TrainConfig

    job = FineTuneJob.objects.select_related("dataset", "user").get(pk=job_id)
    # Device-seconds add up over attempts: earlier ones (as far as their last heartbeat) plus this one.
    earlier_seconds = job.gpu_seconds
    started = time.monotonic()
    try:
        parsed = job_rows(job)
        if not parsed.ok:
            raise ValidationError("; ".join(str(e) for e in parsed.errors[:5]))
        base_path = base_model_path(job.base_model)
    except (ValidationError, OSError, KeyError) as exc:
        message = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return job_finish(job_id=job.pk, attempt=attempt, status=JobStatus.FAILED, reason=message)
    out_dir = job_output_dir(job)
    # This attempt owns its folder; anything there is left from a database that was reset.
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    p = job.params
    policy = host_training_policy()
    config = TrainConfig(
        kind=job.kind, base_path=base_path, output_dir=str(out_dir / "model"), method=p["method"], steps=p["steps"],
        batch_size=p["batch_size"], seq_len=p["seq_len"], learning_rate=p["learning_rate"],
        warmup_steps=p["warmup_steps"], lora_r=p["lora_r"], lora_alpha=2 * p["lora_r"],
        eval_fraction=p["eval_fraction"], seed=p["seed"], device=settings.TRAINING_DEVICE,
        threads=policy.threads, priority=policy.priority, cuda_memory_fraction=policy.cuda_memory_fraction,
        labels=parsed.labels)
    child = TrainingChild(config=config.to_dict(), rows=parsed.rows, stderr_path=out_dir / "stderr.log",
                          env=training_child_env(policy))
    job_child_started(job_id=job.pk, attempt=attempt, pid=child.pid)
    log(job.pk, f"training process {child.pid} started")
    child_started = time.monotonic()

    def on_event(event):
        job_progress_record(job_id=job.pk, attempt=attempt, event=event, elapsed=time.monotonic() - child_started)

    def heartbeat() -> bool:
        return job_heartbeat(job_id=job.pk, attempt=attempt,
                             gpu_seconds=round(earlier_seconds + time.monotonic() - child_started, 3))

    outcome = supervise(
        child, on_event=on_event, cancel_requested=lambda: job_cancel_requested(job_id=job.pk), heartbeat=heartbeat,
        grace_seconds=settings.TRAINING_CANCEL_GRACE_SECONDS, max_seconds=settings.TRAINING_JOB_MAX_SECONDS,
        heartbeat_seconds=settings.TRAINING_HEARTBEAT_SECONDS)
    status = {SUCCEEDED: JobStatus.SUCCEEDED, "cancelled": JobStatus.CANCELLED}.get(outcome.status, JobStatus.FAILED)
    run_seconds = time.monotonic() - child_started  # the device is free once the child exits
    reason, output = outcome.reason, ""
    if status == JobStatus.SUCCEEDED:
        output, reason = job_output_store(job=job, attempt=attempt, local_dir=Path(config.output_dir), heartbeat=heartbeat)
        status = JobStatus.SUCCEEDED if output else JobStatus.FAILED
    result = outcome.result or ({"error_code": outcome.error_code} if outcome.error_code else None)
    finished = job_finish(job_id=job.pk, attempt=attempt, status=status, reason=reason, result=result,
                          run_seconds=run_seconds, gpu_seconds=earlier_seconds + run_seconds, output_path=output)
    if finished is None:
        log(job.pk, f"attempt {attempt} stopped after {run_seconds:.1f} s: the job had been given to another attempt")
    logger.info("Job %s attempt %s: %s in %.1f s", job.pk, attempt, status, time.monotonic() - started)
    return finished


def job_output_store(*, job: FineTuneJob, attempt: int, local_dir: Path, heartbeat) -> tuple[str, str]:
    """Upload a finished attempt's output to the object store, where any host's model
    worker fetches it; returns (artifact reference, "") or ("", why it failed)."""
    from .artifacts import upload_dir

    try:
        ref = upload_dir(local_dir, folder=f"training/jobs/{job.pk}/attempt-{attempt}/model", on_file=heartbeat)
    except Exception as exc:  # noqa: BLE001  (the store is down or refused: the attempt failed, say why)
        logger.exception("Storing the output of job %s failed", job.pk)
        return "", f"Could not store the output in the object store: {exc}"
    log(job.pk, f"output stored ({ref.rpartition('#')[2][:19]}…)")
    shutil.rmtree(local_dir, ignore_errors=True)  # the store holds it now; this disk is scratch
    return ref, ""


def job_fail_interrupted(*, job_id: int, attempt: int, reason: str) -> None:
    """The task itself was stopped (Celery's soft time limit): fail the attempt."""
    job_finish(job_id=job_id, attempt=attempt, status=JobStatus.FAILED, reason=reason)
