"""Reads for fine-tunes: who may see what, queue positions, curves and the backend view."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from core import policy

from .models import ACTIVE, FineTuneJob, JobKind, JobLog, JobMetric, JobStatus, Quota
from .services import USAGE_WINDOW, fair_queue, jobs_stale


def job_visible_to(*, user, job: FineTuneJob) -> bool:
    return policy.may_view_job(user, job)


def job_cancellable_by(*, user, job: FineTuneJob) -> bool:
    return policy.may_cancel_job(user, job)


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


def job_eta_seconds(*, job: FineTuneJob, metrics: list[JobMetric]) -> float | None:
    if job.status != JobStatus.RUNNING or len(metrics) < 2:
        return None
    per_step = (metrics[-1].elapsed - metrics[0].elapsed) / (len(metrics) - 1)
    return max(0.0, per_step * (job.steps_total - job.steps_done))


def usage_by_user(*, since=None) -> QuerySet:
    since = since or timezone.now() - USAGE_WINDOW
    return (get_user_model().objects.annotate(
        week_seconds=Sum("finetune_jobs__gpu_seconds", filter=Q(finetune_jobs__started_at__gte=since)),
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
    """How many running jobs are phantoms until recovered (`services.jobs_stale`)."""
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
