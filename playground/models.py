import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .ml import kinds


class ModelKind(models.TextChoices):
    CAUSAL_LM = kinds.CAUSAL_LM, _("Causal language model")
    ENCODER = kinds.ENCODER, _("Encoder")
    ENDPOINT = "endpoint", _("OpenAI-compatible endpoint")


class ModelEntry(models.Model):
    """A model the workers can serve: where its weights are and whether it is on."""

    name = models.SlugField(_("name"), max_length=100, unique=True)
    display_name = models.CharField(_("display name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=ModelKind.choices)
    source = models.CharField(
        _("weights"), max_length=500, help_text=_("A local folder, or a hub id already in the local Hugging Face cache.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    is_builtin = models.BooleanField(default=False, editable=False)
    # A fine-tuned model belongs to the employee who trained it; shared models have no owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="own_models"
    )
    base = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="derived")
    adapter = models.CharField(
        _("adapter"), max_length=500, blank=True, help_text=_("A peft adapter folder applied on top of the base model.")
    )
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_builtin", "kind", "name"]
        verbose_name = _("model")

    def __str__(self):
        return self.display_name


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    STOPPED = "stopped", _("Stopped")
    ERROR = "error", _("Error")


# Why a generation ended (the engine's codes), for people: run pages and the socket's `done`.
FINISH_REASONS = {
    "stop_token": _("the model ended its answer"),
    "length": _("reached max new tokens"),
    "stopped": _("stopped"),
    "no_worker": _("no model worker answered"),
    "worker_lost": _("the model worker stopped"),
    # An OpenAI-compatible endpoint's failures (the run's error field has the whole sentence).
    "endpoint_down": _("the endpoint could not be reached"),
    "endpoint_timeout": _("the endpoint timed out"),
    "endpoint_rate_limited": _("the endpoint's rate limit"),
    "endpoint_auth": _("the endpoint refused the API key"),
    "endpoint_no_key": _("the endpoint's API key is missing"),
    "endpoint_cut": _("the endpoint cut the stream"),
    "endpoint_error": _("the endpoint answered with an error"),
    "endpoint_model_missing": _("the endpoint does not serve this model"),
    "endpoint_bad_reply": _("the endpoint's reply was not understood"),
}


def finish_reason_text(code: str) -> str:
    """The words for a finish reason in the active language (an unknown code as it is)."""
    return str(FINISH_REASONS.get(code, code))


class PlaygroundRun(models.Model):
    """One generation in the playground: what was asked, what came out, and its cost.

    The consumer creates the row when the employee presses Generate; the model worker
    fills in the result, so a closed tab loses nothing.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="playground_runs")
    model_name = models.CharField(max_length=100)
    mode = models.CharField(max_length=16, choices=[("completion", pgettext_lazy("generation mode", "Completion")),
                                                   ("chat", pgettext_lazy("generation mode", "Chat"))])
    prompt = models.TextField()
    params = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING, db_index=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    error = models.TextField(blank=True)
    output = models.TextField(blank=True)
    tokens = models.JSONField(default=list, blank=True)  # [{id, text, p, top: [{id, text, p}]}]
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    ttft_ms = models.FloatField(null=True, blank=True)
    tokens_per_second = models.FloatField(null=True, blank=True)
    compute_seconds = models.FloatField(default=0.0)  # this run's share of forward-pass time
    device = models.CharField(max_length=32, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    # The worker process that claimed the run (server-made, one per process start); its
    # heartbeat says whether the run is still alive.
    worker_id = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "status", "created_at"])]

    def __str__(self):
        return f"{self.user} · {self.model_name} · {self.created_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return reverse("playground:run", args=[self.public_id])

    @property
    def finish_reason_label(self) -> str:
        """Why generation ended, for people (the stored code is for programs)."""
        return finish_reason_text(self.finish_reason)


class WorkerHeartbeat(models.Model):
    """A model worker process says it is alive; runs it claimed die with it."""

    worker_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.name} ({self.worker_id})"


def validate_base_url(value: str) -> None:
    """http(s), a host (a bare name like `vllm` is fine inside a network), no credentials."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise ValidationError(_("Enter a URL such as http://gpu-host:8000/v1."), code="invalid")
    if parts.username or parts.password:
        raise ValidationError(_("Leave credentials out of the URL: name the API key's variable or file below."),
                              code="credentials")
    if parts.query or parts.fragment:
        raise ValidationError(_("The base URL takes no query string."), code="invalid")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ValidationError(_("Enter a URL such as http://gpu-host:8000/v1."), code="invalid") from None


class ModelEndpoint(models.Model):
    """How to reach a model of kind "endpoint": an OpenAI-compatible server (vLLM, SGLang,
    TGI, llama.cpp's server) that streams it. The API key is never stored: only where to
    read it (an environment variable's name or a secret file's path), read at each request.
    """

    entry = models.OneToOneField(ModelEntry, on_delete=models.CASCADE, related_name="endpoint")
    base_url = models.CharField(_("base URL"), max_length=500, validators=[validate_base_url],
                                help_text=_("Up to and including /v1, e.g. http://gpu-host:8000/v1"))
    served_model = models.CharField(_("served model name"), max_length=200,
                                    help_text=_("The name the server knows the model by (its /v1/models list)."))
    api_key_env = models.CharField(_("API key: environment variable"), max_length=100, blank=True,
                                   help_text=_("The NAME of a variable that holds the key, e.g. VLLM_API_KEY."))
    api_key_file = models.CharField(_("API key: secret file"), max_length=500, blank=True,
                                    help_text=_("Or the path of a file that holds the key."))
    timeout_seconds = models.FloatField(_("timeout (seconds)"), default=30.0,
                                        help_text=_("Longest wait to connect, and between two streamed tokens."))
    max_tokens = models.PositiveIntegerField(_("max new tokens"), default=512)
    max_concurrency = models.PositiveIntegerField(_("concurrent generations"), default=8,
                                                  help_text=_("Per web process; more are refused as busy."))
    supports_streaming = models.BooleanField(_("streams its answers"), default=True,
                                             help_text=_("Off: each answer comes whole, then shows token by token."))
    supports_logprobs = models.BooleanField(_("gives logprobs and top-5 alternatives"), default=True)
    supports_chat = models.BooleanField(_("has a chat API (/chat/completions)"), default=True)
    tokenize_path = models.CharField(
        _("tokenize route"), max_length=100, blank=True,
        help_text=_("A path under the server's root that tokenizes text, e.g. /tokenize (vLLM) or "
                    "/extras/tokenize (llama.cpp); empty if none."))

    class Meta:
        verbose_name = _("endpoint")

    def __str__(self):
        return f"{self.served_model} @ {self.base_url}"
