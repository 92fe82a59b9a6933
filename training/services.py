"""Writes for fine-tunes made on the web side: datasets, submission under quota,
quotas, cancelling, and the job log both sides write.

The Celery side (claim, execute, progress, finish, recovery) is `training/runner.py`;
reads, including the fair queue order and quota use, are `training/selectors.py`.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from audit.services import SYSTEM, Origin, audit_record

from .ml import datasets as ds
from .models import ACTIVE, Dataset, FineTuneJob, JobLog, JobStatus, Quota
from .params import base_model, params_build
from .selectors import base_model_path, dataset_limits, quota_use


class DatasetInvalid(Exception):
    def __init__(self, errors: list[ds.RowError]):
        super().__init__("; ".join(str(e) for e in errors[:5]))
        self.errors = errors


class QuotaExceeded(Exception):
    pass


class JobNotCancellable(Exception):
    pass


# --- datasets ---------------------------------------------------------------------------
def dataset_parse(*, data: bytes, filename: str, kind: str) -> ds.ParsedDataset:
    fmt = ds.detect_format(filename) or ""
    try:
        counter = ds.token_counter(base_model_path(base_model(kind)))
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


# --- usage and quota --------------------------------------------------------------------
def quota_for(user) -> Quota:
    quota, _ = Quota.objects.get_or_create(user=user)
    return quota


@transaction.atomic
def quota_set(*, user, max_concurrent: int | None, gpu_seconds_per_week: int | None,
              origin: Origin = SYSTEM) -> Quota:
    """Set a person's limits; a change leaves one audit entry (before → after)."""
    quota = Quota.objects.select_for_update().get(pk=quota_for(user).pk)  # two admins at once: one after the other
    before = {"max_concurrent": quota.max_concurrent, "gpu_seconds_per_week": quota.gpu_seconds_per_week}
    quota.max_concurrent = max_concurrent
    quota.gpu_seconds_per_week = gpu_seconds_per_week
    quota.full_clean()
    quota.save()
    after = {"max_concurrent": max_concurrent, "gpu_seconds_per_week": gpu_seconds_per_week}
    if after != before:
        audit_record(action="quota.changed", origin=origin, target=user, before=before, after=after)
    return quota


@transaction.atomic
def quota_delete(*, quota: Quota, origin: Origin = SYSTEM) -> None:
    """Drop a person's limits (they get the site defaults), with one audit entry."""
    audit_record(action="quota.changed", origin=origin, target=quota.user,
                 before={"max_concurrent": quota.max_concurrent, "gpu_seconds_per_week": quota.gpu_seconds_per_week},
                 after={"max_concurrent": None, "gpu_seconds_per_week": None})
    quota.delete()


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
        use = quota_use(user=user, quota=quota)
        if use.concurrency_full:
            raise QuotaExceeded(
                f"You already have {use.active_jobs} fine-tune(s) queued or running; your limit is "
                f"{use.max_concurrent}. Wait for one to finish or cancel one.")
        if use.gpu_seconds_spent:
            raise QuotaExceeded(
                f"You have used {use.gpu_seconds_used:,.0f} of your {use.gpu_seconds_limit:,} GPU-seconds in the "
                "last 7 days. Ask an admin for more, or wait until older jobs leave the 7-day window.")
        if upload is not None:
            dataset = dataset_upload(user=user, uploaded_file=upload, kind=kind)
            label = dataset.name
        job = FineTuneJob(
            user=user, kind=kind, method=params["method"], base_model=base_model(kind), dataset=dataset,
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


def jobs_cancel_for_user(*, user_id: int) -> int:
    """Cancel every queued or running fine-tune of one person (a deactivation), through
    job_cancel; returns how many."""
    cancelled = 0
    for job_id in FineTuneJob.objects.filter(user_id=user_id, status__in=ACTIVE).values_list("pk", flat=True):
        try:
            job_cancel(job_id=job_id)
            cancelled += 1
        except JobNotCancellable:  # it finished meanwhile
            pass
    return cancelled


# --- the job log, written by both sides ----------------------------------------------
def log(job_id: int, message: str) -> None:
    JobLog.objects.create(job_id=job_id, message=message[:4000])
