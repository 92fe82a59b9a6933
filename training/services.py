"""Writes for fine-tunes: datasets, submission under quota, the fair claim, progress,
finishing, cancelling and recovery after a worker died.

The job row is the truth. Every write made on behalf of a running attempt filters on
(status=running, attempts=<that attempt>), so a runner that lost its job (requeued by
recovery, say) can never overwrite the newer attempt's state.
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import F, FloatField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify

from .ml import datasets as ds
from .models import ACTIVE, Dataset, FineTuneJob, JobKind, JobLog, JobMetric, JobStatus, Quota
from .params import BASE_MODELS, params_build

logger = logging.getLogger(__name__)

USAGE_WINDOW = timedelta(days=7)


class DatasetInvalid(Exception):
    def __init__(self, errors: list[ds.RowError]):
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = errors


class QuotaExceeded(Exception):
    pass


class JobNotCancellable(Exception):
    pass


# --- datasets ---------------------------------------------------------------------------
def dataset_limits() -> ds.Limits:
    return ds.Limits(max_bytes=settings.TRAINING_MAX_UPLOAD_BYTES, max_rows=settings.TRAINING_MAX_ROWS,
                     max_row_tokens=settings.TRAINING_MAX_ROW_TOKENS)


def base_model_path(name: str) -> str:
    from playground.models import ModelEntry

    entry = ModelEntry.objects.filter(name=name).first()
    if entry is None:
        raise ValidationError(f"The base model {name!r} is not registered; run `manage.py provision_models`.")
    return entry.source


def dataset_parse(*, data: bytes, filename: str, kind: str) -> ds.ParsedDataset:
    fmt = ds.detect_format(filename) or ""
    try:
        counter = ds.token_counter(base_model_path(BASE_MODELS[kind]))
    except (ValidationError, OSError, Exception):  # no tokenizer.json: fall back to a rough count
        counter = lambda text: len(text) // 3  # noqa: E731
    return ds.parse_dataset(data, fmt=fmt, kind=kind, limits=dataset_limits(), count_tokens=counter)


def dataset_upload(*, user, uploaded_file, kind: str, name: str = "") -> Dataset:
    """Validate an upload completely, then store it; raise DatasetInvalid with line errors."""
    limits = dataset_limits()
    if uploaded_file.size > limits.max_bytes:
        raise DatasetInvalid([ds.RowError(0, f"the file is {uploaded_file.size:,} bytes; the limit is {limits.max_bytes:,}")])
    data = uploaded_file.read()
    parsed = dataset_parse(data=data, filename=uploaded_file.name, kind=kind)
    if not parsed.ok:
        raise DatasetInvalid(parsed.errors)
    dataset = Dataset(user=user, name=(name or Path(uploaded_file.name).name)[:200], kind=kind,
                      fmt=ds.detect_format(uploaded_file.name), rows=len(parsed.rows), labels=parsed.labels)
    safe_name = f"{int(time.time())}-{Path(uploaded_file.name).name[-80:]}"
    dataset.file.save(safe_name, ContentFile(data), save=False)
    dataset.full_clean()
    dataset.save()
    return dataset


def job_rows(job: FineTuneJob) -> ds.ParsedDataset:
    if job.builtin_dataset:
        return ds.load_builtin(job.builtin_dataset, limits=dataset_limits())
    if job.dataset is None:
        raise ValidationError("The job's dataset was deleted.")
    with job.dataset.file.open("rb") as f:
        data = f.read()
    return ds.parse_dataset(data, fmt=job.dataset.fmt, kind=job.kind, limits=dataset_limits())


# --- usage and quota --------------------------------------------------------------------
def usage_seconds(*, user, since=None) -> float:
    since = since or timezone.now() - USAGE_WINDOW
    total = FineTuneJob.objects.filter(user=user, started_at__gte=since).aggregate(s=Sum("gpu_seconds"))["s"]
    return float(total or 0.0)


def quota_for(user) -> Quota:
    quota, _ = Quota.objects.get_or_create(user=user)
    return quota


def quota_set(*, user, max_concurrent: int | None, gpu_seconds_per_week: int | None) -> Quota:
    quota = quota_for(user)
    quota.max_concurrent = max_concurrent
    quota.gpu_seconds_per_week = gpu_seconds_per_week
    quota.full_clean()
    quota.save()
    return quota


# --- submission -------------------------------------------------------------------------
def job_submit(
    *,
    user,
    kind: str,
    preset: str,
    method: str = "lora",
    builtin_dataset: str = "",
    dataset: Dataset | None = None,
    upload=None,
    overrides: dict | None = None,
    name: str = "",
    submission_token: str = "",
) -> FineTuneJob:
    """Queue a fine-tune if the employee's quota allows it.

    The quota check and the insert share one transaction holding the employee's quota
    row locked (select_for_update), so two submissions at once cannot both slip under
    the limit. A `submission_token` already used by this employee returns that job
    (a double click makes one job). An `upload` is stored as a dataset only once the
    quota allows the job: a refused submission saves nothing.
    """
    params = params_build(kind=kind, preset=preset, method=method, overrides=overrides)
    if sum(map(bool, (builtin_dataset, dataset, upload))) != 1:
        raise ValidationError("Choose either a built-in dataset or an upload.")
    if builtin_dataset:
        meta = ds.BUILTINS.get(builtin_dataset)
        if meta is None or meta.kind != kind:
            raise ValidationError(f"{builtin_dataset!r} is not a built-in dataset for this kind of job.")
        label = meta.title
    elif dataset is not None:
        if dataset.user_id != user.pk or dataset.kind != kind:
            raise ValidationError("That dataset is not yours or not for this kind of job.")
        label = dataset.name
    quota_for(user)  # exists before we lock it
    with transaction.atomic():
        quota = Quota.objects.select_for_update().get(user=user)
        if submission_token:
            existing = FineTuneJob.objects.filter(user=user, submission_token=submission_token).first()
            if existing is not None:
                return existing
        active = FineTuneJob.objects.filter(user=user, status__in=ACTIVE).count()
        if active >= quota.effective_max_concurrent:
            raise QuotaExceeded(
                f"You already have {active} fine-tune(s) queued or running; your limit is "
                f"{quota.effective_max_concurrent}. Wait for one to finish or cancel one.")
        used = usage_seconds(user=user)
        if used >= quota.effective_gpu_seconds_per_week:
            raise QuotaExceeded(
                f"You have used {used:,.0f} of your {quota.effective_gpu_seconds_per_week:,} GPU-seconds in the "
                "last 7 days. Ask an admin for more, or wait until older jobs leave the 7-day window.")
        if upload is not None:
            dataset = dataset_upload(user=user, uploaded_file=upload, kind=kind)
            label = dataset.name
        job = FineTuneJob(
            user=user, kind=kind, method=params["method"], base_model=BASE_MODELS[kind], dataset=dataset,
            builtin_dataset=builtin_dataset, preset=preset, params=params, queue_name=settings.TRAINING_QUEUE,
            steps_total=params["steps"], name=(name or f"{label} · {preset}")[:100], submission_token=submission_token)
        try:
            job.full_clean()
            job.save()
        except Exception:
            if upload is not None:  # the transaction forgets the row; the file goes too
                dataset.file.delete(save=False)
            raise
        log(job.pk, f"queued on {job.queue_name} by {user.username}")
        transaction.on_commit(lambda: job_enqueue(job_id=job.pk, queue_name=job.queue_name))
    return job


def job_enqueue(*, job_id: int, queue_name: str) -> None:
    """Send one "a slot is free" trigger to the queue; the DB decides which job runs."""
    from .tasks import training_run_slot

    training_run_slot.apply_async(args=[job_id], queue=queue_name)


# --- cancel -----------------------------------------------------------------------------
def job_cancel(*, job_id: int) -> FineTuneJob:
    """A queued job is cancelled at once; a running one gets the flag its runner polls."""
    with transaction.atomic():
        job = FineTuneJob.objects.select_for_update().get(pk=job_id)
        if job.status == JobStatus.QUEUED:
            job.status = JobStatus.CANCELLED
            job.finished_at = timezone.now()
            job.failure_reason = ""
            job.save(update_fields=["status", "finished_at", "failure_reason"])
            log(job.pk, "cancelled while queued")
        elif job.status == JobStatus.RUNNING:
            if not job.cancel_requested:
                job.cancel_requested = True
                job.save(update_fields=["cancel_requested"])
                log(job.pk, "cancel requested; stopping the training process")
        else:
            raise JobNotCancellable(f"The job has already {job.status}.")
    return job


# --- the fair claim ---------------------------------------------------------------------
def fair_queue(*, queue_name: str | None = None):
    """Queued jobs in the order they will run: the owner with the least device-seconds
    in the last 7 days first, then the oldest job."""
    since = timezone.now() - USAGE_WINDOW
    usage = (FineTuneJob.objects.filter(user=OuterRef("user"), started_at__gte=since)
             .order_by().values("user").annotate(s=Sum("gpu_seconds")).values("s"))
    jobs = FineTuneJob.objects.filter(status=JobStatus.QUEUED)
    if queue_name is not None:
        jobs = jobs.filter(queue_name=queue_name)
    return jobs.annotate(owner_usage=Coalesce(Subquery(usage, output_field=FloatField()), Value(0.0))).order_by(
        "owner_usage", "created_at", "pk")


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


# --- progress, written by the runner (the Celery task) -----------------------------------
def log(job_id: int, message: str) -> None:
    JobLog.objects.create(job_id=job_id, message=message[:4000])


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
        log(job_id, f"training process on {event['device']} ({event.get('torch_threads')} CPU threads)")
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


def jobs_stale():
    """Running jobs whose heartbeat is older than the threshold: phantoms until recovered
    (here, since selectors read it too and import this module)."""
    stale = timezone.now() - timedelta(seconds=settings.TRAINING_HEARTBEAT_STALE_SECONDS)
    return FineTuneJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale)


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


__all__ = [
    "DatasetInvalid", "JobKind", "JobNotCancellable", "QuotaExceeded", "dataset_upload", "job_cancel",
    "job_claim_next", "job_submit", "quota_set", "worker_startup_recover",
]


# --- running one attempt (inside the Celery task) ------------------------------------------
def job_output_dir(job: FineTuneJob) -> Path:
    return Path(settings.VAR_DIR) / "training" / "jobs" / str(job.pk) / f"attempt-{job.attempts}"


def job_execute(*, job_id: int, attempt: int) -> FineTuneJob | None:
    """Run a claimed attempt in a child process and record everything it reports.

    torch is never imported here: the worker's parent process stays free of CUDA,
    and the child gives all its memory back when it exits.
    """
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
    config = TrainConfig(
        kind=job.kind, base_path=base_path, output_dir=str(out_dir / "model"), method=p["method"], steps=p["steps"],
        batch_size=p["batch_size"], seq_len=p["seq_len"], learning_rate=p["learning_rate"],
        warmup_steps=p["warmup_steps"], lora_r=p["lora_r"], lora_alpha=2 * p["lora_r"],
        eval_fraction=p["eval_fraction"], seed=p["seed"], device=settings.TRAINING_DEVICE,
        threads=settings.TRAINING_CPU_THREADS, labels=parsed.labels)
    child = TrainingChild(config=config.to_dict(), rows=parsed.rows, stderr_path=out_dir / "stderr.log")
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
    finished = job_finish(job_id=job.pk, attempt=attempt, status=status, reason=reason, result=outcome.result,
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
