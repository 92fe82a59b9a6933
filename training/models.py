from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from playground.ml import kinds

from .ml.datasets import BUILTINS


class JobKind(models.TextChoices):
    CAUSAL_LM = kinds.CAUSAL_LM, _("Causal LM fine-tune")
    CLASSIFIER = kinds.CLASSIFIER, _("Sequence classifier")


class Method(models.TextChoices):
    LORA = "lora", _("LoRA")
    FULL = "full", _("Full fine-tune")


class JobStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
FINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


def dataset_upload_to(instance, filename):
    return f"training/datasets/{instance.user_id}/{filename}"


class Dataset(models.Model):
    """An uploaded dataset that passed validation; the file lives in the default storage
    (the object store in production), where the GPU host's worker reads it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_datasets")
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=JobKind.choices)
    fmt = models.CharField(_("format"), max_length=8)
    file = models.FileField(_("file"), upload_to=dataset_upload_to, max_length=500)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    labels = models.JSONField(_("labels"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name


class FineTuneJob(models.Model):
    """One fine-tune. This row is the truth: the job page, the queue and the
    accounting all read it; the Celery message only says "a slot is free"."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="finetune_jobs")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=JobKind.choices)
    method = models.CharField(_("method"), max_length=8, choices=Method.choices, default=Method.LORA)
    base_model = models.CharField(_("base model"), max_length=100)  # playground registry name
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    builtin_dataset = models.CharField(_("built-in dataset"), max_length=50, blank=True)
    preset = models.CharField(_("preset"), max_length=32, blank=True)
    params = models.JSONField(_("parameters"), default=dict)
    status = models.CharField(_("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED,
                              db_index=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)  # the broker keeps none; we do
    queue_name = models.CharField(_("queue"), max_length=64)
    device = models.CharField(_("device"), max_length=32, blank=True)
    worker_hostname = models.CharField(_("worker"), max_length=200, blank=True)
    child_pid = models.PositiveIntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    wall_seconds = models.FloatField(default=0.0)  # queued → finished, summed over attempts' run time
    gpu_seconds = models.FloatField(default=0.0)  # device-seconds held (compute seconds on a CPU)
    steps_done = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=0)
    last_loss = models.FloatField(null=True, blank=True)
    eval_before = models.JSONField(null=True, blank=True)
    eval_after = models.JSONField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)  # tokens/s and the like, from the child
    failure_reason = models.TextField(blank=True)
    # A succeeded attempt's output in the object store, with its checksum:
    # "artifact:<folder>#sha256=<manifest digest>" (training/artifacts.py).
    output_path = models.CharField(max_length=500, blank=True)
    registered_model = models.CharField(max_length=100, blank=True)  # playground registry name
    # Made when the form is drawn: every click that posts the same form gets this one job.
    submission_token = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "queue_name", "created_at"]),
            models.Index(fields=["user", "started_at"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "submission_token"], condition=~models.Q(submission_token=""),
                                    name="training_job_once_per_submission"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.name}"

    def get_absolute_url(self):
        return reverse("training:job", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def dataset_label(self) -> str:
        if self.builtin_dataset:
            meta = BUILTINS.get(self.builtin_dataset)
            return gettext(meta.title) if meta else self.builtin_dataset
        return self.dataset.name if self.dataset else "—"


class JobMetric(models.Model):
    """One optimizer step: the loss curve is these rows."""

    job = models.ForeignKey(FineTuneJob, on_delete=models.CASCADE, related_name="metrics")
    attempt = models.PositiveSmallIntegerField()
    step = models.PositiveIntegerField()
    loss = models.FloatField()
    lr = models.FloatField()
    tokens = models.PositiveIntegerField(default=0)
    tokens_per_second = models.FloatField(default=0.0)
    elapsed = models.FloatField(default=0.0)  # seconds since this attempt's child started
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["attempt", "step"]
        constraints = [models.UniqueConstraint(fields=["job", "attempt", "step"], name="training_metric_unique_step")]

    def __str__(self):
        return f"{self.job_id}:{self.attempt}:{self.step}"


class JobLog(models.Model):
    """Append-only log lines of a job (worker, child and recovery messages)."""

    job = models.ForeignKey(FineTuneJob, on_delete=models.CASCADE, related_name="logs")
    created_at = models.DateTimeField(auto_now_add=True)
    message = models.TextField()

    class Meta:
        ordering = ["pk"]

    def __str__(self):
        return self.message[:80]


class Quota(models.Model):
    """Per-employee limits set by admins; a blank field means the site default."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_quota")
    max_concurrent = models.PositiveSmallIntegerField(
        _("concurrent jobs"), null=True, blank=True, help_text=_("Queued plus running. Blank: the site default."))
    gpu_seconds_per_week = models.PositiveIntegerField(
        _("GPU-seconds per 7 days"), null=True, blank=True, help_text=_("Blank: the site default."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("fine-tune quota")

    def __str__(self):
        return f"{self.user}"

    @property
    def effective_max_concurrent(self) -> int:
        return self.max_concurrent if self.max_concurrent is not None else settings.TRAINING_DEFAULT_MAX_CONCURRENT

    @property
    def effective_gpu_seconds_per_week(self) -> int:
        if self.gpu_seconds_per_week is not None:
            return self.gpu_seconds_per_week
        return settings.TRAINING_DEFAULT_GPU_SECONDS_PER_WEEK
