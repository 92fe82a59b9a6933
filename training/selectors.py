"""Reads for fine-tunes: who may see what, the fair queue, usage and quotas, queue
positions, curves and the backend view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count, FloatField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import policy
from playground.models import ModelEntry
from playground.selectors import model_usable_by

from .ml import datasets as ds
from .models import ACTIVE, FineTuneJob, JobKind, JobLog, JobMetric, JobStatus, Quota

USAGE_WINDOW = timedelta(days=7)  # quotas and the fair order count device-seconds over this window
# A job's GPU-seconds are placed in time by when it started, for every reading of use in a
# period: the quota, the fair queue, the backend page and the dashboards.
USAGE_AT = "started_at"


def usage_in(*, since, prefix: str = "") -> Q:
    """Jobs whose GPU use counts from `since` on; `prefix` reaches them through a relation."""
    return Q(**{f"{prefix}{USAGE_AT}__gte": since})


def dataset_limits() -> ds.Limits:
    return ds.Limits(max_bytes=settings.TRAINING_MAX_UPLOAD_BYTES, max_rows=settings.TRAINING_MAX_ROWS,
                     max_row_tokens=settings.TRAINING_MAX_ROW_TOKENS)


def base_model_path(name: str) -> str:
    entry = ModelEntry.objects.filter(name=name).first()
    if entry is None:
        raise ValidationError(f"The base model {name!r} is not registered; run `manage.py provision_models`.")
    return entry.source


def job_rows(job: FineTuneJob) -> ds.ParsedDataset:
    if job.builtin_dataset:
        return ds.load_builtin(job.builtin_dataset, limits=dataset_limits())
    if job.dataset is None:
        raise ValidationError("The job's dataset was deleted.")
    with job.dataset.file.open("rb") as f:
        data = f.read()
    return ds.parse_dataset(data, fmt=job.dataset.fmt, kind=job.kind, limits=dataset_limits())


def usage_seconds(*, user, since=None) -> float:
    since = since or timezone.now() - USAGE_WINDOW
    total = FineTuneJob.objects.filter(usage_in(since=since), user=user).aggregate(s=Sum("gpu_seconds"))["s"]
    return float(total or 0.0)


@dataclass(frozen=True)
class QuotaUse:
    """A person's fine-tune quota and what they use of it: the one reading that the
    submission check and the dashboards share."""

    active_jobs: int  # queued or running (models.ACTIVE)
    max_concurrent: int
    gpu_seconds_used: float  # over USAGE_WINDOW
    gpu_seconds_limit: int

    @property
    def concurrency_full(self) -> bool:
        return self.active_jobs >= self.max_concurrent

    @property
    def gpu_seconds_spent(self) -> bool:
        return self.gpu_seconds_used >= self.gpu_seconds_limit

    @property
    def percent(self) -> int:
        return round(100 * self.gpu_seconds_used / self.gpu_seconds_limit) if self.gpu_seconds_limit else 0


def quota_use(*, user, quota: Quota | None = None) -> QuotaUse:
    """`quota` is the user's row when the caller holds it locked; else it is read (the
    defaults apply to someone who has none)."""
    quota = quota or Quota.objects.filter(user=user).first() or Quota(user=user)
    return QuotaUse(active_jobs=FineTuneJob.objects.filter(user=user, status__in=ACTIVE).count(),
                    max_concurrent=quota.effective_max_concurrent, gpu_seconds_used=usage_seconds(user=user),
                    gpu_seconds_limit=quota.effective_gpu_seconds_per_week)


def fair_queue(*, queue_name: str | None = None):
    """Queued jobs in the order they will run: the owner with the least device-seconds
    in the last 7 days first, then the oldest job."""
    since = timezone.now() - USAGE_WINDOW
    usage = (FineTuneJob.objects.filter(usage_in(since=since), user=OuterRef("user"))
             .order_by().values("user").annotate(s=Sum("gpu_seconds")).values("s"))
    jobs = FineTuneJob.objects.filter(status=JobStatus.QUEUED)
    if queue_name is not None:
        jobs = jobs.filter(queue_name=queue_name)
    return jobs.annotate(owner_usage=Coalesce(Subquery(usage, output_field=FloatField()), Value(0.0))).order_by(
        "owner_usage", "created_at", "pk")


def jobs_stale():
    """Running jobs whose heartbeat is older than the threshold: phantoms until recovered."""
    stale = timezone.now() - timedelta(seconds=settings.TRAINING_HEARTBEAT_STALE_SECONDS)
    return FineTuneJob.objects.filter(status=JobStatus.RUNNING, heartbeat_at__lt=stale)


def job_visible_to(*, user, job: FineTuneJob) -> bool:
    return policy.may_view_job(user, job)


def job_cancellable_by(*, user, job: FineTuneJob) -> bool:
    return policy.may_cancel_job(user, job)


def tuned_model_usable_by(*, user, job: FineTuneJob) -> bool:
    """Only the owner may use a tuned model (a manager sees the job, not the model)."""
    return bool(job.registered_model) and model_usable_by(user=user, name=job.registered_model)


def jobs_for_user(*, user, limit: int = 50) -> QuerySet[FineTuneJob]:
    return FineTuneJob.objects.filter(user=user).select_related("dataset")[:limit]


def queue_position(*, job: FineTuneJob) -> int | None:
    """1 = runs next on its queue. None unless queued."""
    if job.status != JobStatus.QUEUED:
        return None
    for position, pk in enumerate(fair_queue(queue_name=job.queue_name).values_list("pk", flat=True), start=1):
        if pk == job.pk:
            return position
    return None


def job_metrics(*, job: FineTuneJob) -> list[JobMetric]:
    """The latest attempt's steps (an earlier, interrupted attempt's curve is superseded)."""
    return list(JobMetric.objects.filter(job=job, attempt=job.attempts))


def job_logs(*, job: FineTuneJob, limit: int = 200) -> list[JobLog]:
    return list(reversed(JobLog.objects.filter(job=job).order_by("-pk")[:limit]))


def loss_curve(metrics: list[JobMetric], *, total_steps: int = 0, width: int = 600, height: int = 220) -> dict | None:
    """An SVG loss curve drawn server-side (no script, CSP-friendly), with labelled axes.

    The x axis runs to the job's total steps, so a running job's curve grows to the right.
    """
    if not metrics:
        return None
    left, right, top, bottom = 56, 12, 10, 28  # room for the tick labels
    plot_w, plot_h = width - left - right, height - top - bottom
    losses = [m.loss for m in metrics]
    low, high = min(losses), max(losses)
    span = (high - low) or 1.0
    last = max(total_steps, metrics[-1].step, 2)

    def x(step: float) -> float:
        return round(left + (step - 1) / (last - 1) * plot_w, 1)

    def y(loss: float) -> float:
        return round(top + (high - loss) / span * plot_h, 1)

    levels = [high, (high + low) / 2, low] if high != low else [high]
    return {
        "points": " ".join(f"{x(m.step)},{y(m.loss)}" for m in metrics),
        "width": width, "height": height, "low": low, "high": high, "steps": metrics[-1].step, "total": last,
        "frame": {"x": left, "y": top, "width": plot_w, "height": plot_h},
        "y_ticks": [{"y": y(v), "label": f"{v:.3g}"} for v in levels],
        "x_ticks": [{"x": x(step), "label": step} for step in sorted({1, (last + 1) // 2, last})],
        "grid_right": left + plot_w, "y_label_x": left - 6, "x_label_y": height - 8,
    }


# Why a job failed, in the reader's language, by the code the training child reported
# (training.ml.child); the stored failure_reason keeps the English details below it.
FAILURE_MESSAGES = {
    "cuda_out_of_memory": _(
        "The fine-tune ran out of GPU memory. It may use only part of the GPU, so that the playground keeps "
        "serving; the playground was not affected. Try a smaller batch size or sequence length, or ask an "
        "admin to give fine-tunes a GPU of their own."),
}


def job_failure_message(*, job: FineTuneJob) -> str:
    """The translated explanation of a failure with a known code, or ""."""
    code = (job.result or {}).get("error_code", "") if job.status == JobStatus.FAILED else ""
    return str(FAILURE_MESSAGES.get(code, ""))


PACE_WINDOW = 5  # the estimate follows this many recent steps, so it follows the host's load
SLOWED = 1.5  # recent steps this much slower than the fastest stretch: the playground is busy


@dataclass(frozen=True)
class Pace:
    eta_seconds: float | None  # None until two steps are in
    slowed: bool  # training gives way to the playground right now


def job_pace(*, job: FineTuneJob, metrics: list[JobMetric], now=None) -> Pace:
    """The estimated time to the last step, at the pace of the recent steps (the training
    child runs at low priority, so it slows while colleagues use the playground), and
    whether it is slower now than it has been. A step that is overdue counts as taking
    at least as long as it has so far."""
    metrics = [m for m in metrics if m.attempt == job.attempts]
    if job.status != JobStatus.RUNNING or len(metrics) < 2:
        return Pace(None, False)
    steps = [b.elapsed - a.elapsed for a, b in zip(metrics, metrics[1:], strict=False)]  # seconds per step
    recent = steps[-PACE_WINDOW:]
    overdue = ((now or timezone.now()) - metrics[-1].created_at).total_seconds()
    per_step = max(sum(recent) / len(recent), overdue)
    fastest = min(sum(steps[i:i + len(recent)]) / len(recent) for i in range(len(steps) - len(recent) + 1))
    return Pace(eta_seconds=max(0.0, per_step * (job.steps_total - job.steps_done)),
                slowed=per_step > SLOWED * fastest)


def usage_by_user(*, since=None) -> QuerySet:
    since = since or timezone.now() - USAGE_WINDOW
    return (get_user_model().objects.annotate(
        week_seconds=Sum("finetune_jobs__gpu_seconds", filter=usage_in(since=since, prefix="finetune_jobs__")),
        active_jobs=Count("finetune_jobs", filter=Q(finetune_jobs__status__in=ACTIVE)),
        jobs_total=Count("finetune_jobs"),
    ).filter(Q(jobs_total__gt=0) | Q(training_quota__isnull=False)).select_related("training_quota")
        .order_by("-week_seconds", "username"))


def celery_workers(timeout: float = 1.0) -> dict[str, dict]:
    """Ask the Celery workers what they run (remote control; empty when none answer)."""
    from config.celery import app

    try:
        inspect = app.control.inspect(timeout=timeout)
        active = inspect.active() or {}
        queues = inspect.active_queues() or {}
    except Exception as exc:  # a broker that is down is shown, not raised
        return {"error": {"error": str(exc)}}
    return {name: {"active": len(tasks), "queues": sorted(q["name"] for q in queues.get(name, []))}
            for name, tasks in active.items()}


def backend_overview() -> dict:
    running = list(FineTuneJob.objects.filter(status=JobStatus.RUNNING).select_related("user")
                   .order_by("started_at"))
    queued = list(fair_queue().select_related("user"))
    workers = celery_workers()
    for job in running:
        workers.setdefault(job.worker_hostname or "?", {"active": None, "queues": [], "silent": True})
    recent = timezone.now() - timedelta(days=1)
    return {
        "running": running,
        "queued": queued,
        "workers": workers,
        "usage": usage_by_user(),
        "recent_failures": FineTuneJob.objects.filter(status=JobStatus.FAILED, finished_at__gte=recent)
            .select_related("user")[:20],
        "quotas": Quota.objects.select_related("user"),
    }


def jobs_stale_count() -> int:
    """How many running jobs are phantoms until recovered (`jobs_stale`)."""
    return jobs_stale().count()


# What the course's fine-tuning lab asks for, read from a finished job's record
# (courseapp.models.LabMetric names the same keys).
LAB_VALUES = {
    "steps": lambda job: job.steps_done,
    "perplexity_before": lambda job: (job.eval_before or {}).get("perplexity"),
    "perplexity_after": lambda job: (job.eval_after or {}).get("perplexity"),
    "eval_loss_before": lambda job: (job.eval_before or {}).get("loss"),
    "eval_loss_after": lambda job: (job.eval_after or {}).get("loss"),
    "final_train_loss": lambda job: job.last_loss,
}


def lab_job(*, user) -> FineTuneJob | None:
    """The learner's most recent finished language-model fine-tune: the one the
    fine-tuning lab's questions are checked against."""
    return (FineTuneJob.objects.filter(user=user, kind=JobKind.CAUSAL_LM, status=JobStatus.SUCCEEDED)
            .exclude(eval_after=None).order_by("-finished_at", "-pk").first())


def lab_value(*, job: FineTuneJob, metric: str) -> float | None:
    read = LAB_VALUES.get(metric)
    value = read(job) if read else None
    return float(value) if value is not None else None
