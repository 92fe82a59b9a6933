from django.db.models import QuerySet

from core import policy

from .endpoints import EndpointConfig
from .ml.loading import ModelSpec
from .models import ModelEntry, ModelKind, PlaygroundRun


def models_enabled() -> QuerySet[ModelEntry]:
    """Shared models every worker loads at start; employees' own fine-tunes load on demand.
    Endpoints are served by their own servers, never loaded by a worker."""
    return ModelEntry.objects.filter(enabled=True, owner__isnull=True).exclude(kind=ModelKind.ENDPOINT)


def model_spec(entry: ModelEntry) -> ModelSpec:
    return ModelSpec(name=entry.name, kind=entry.kind, source=entry.source, adapter=entry.adapter)


def model_specs_enabled() -> list[ModelSpec]:
    return [model_spec(m) for m in models_enabled()]


def model_spec_by_name(name: str) -> ModelSpec | None:
    entry = ModelEntry.objects.filter(name=name, enabled=True).exclude(kind=ModelKind.ENDPOINT).first()
    return model_spec(entry) if entry else None


def endpoint_config(*, name: str) -> EndpointConfig | None:
    """How to reach model `name` when it is an enabled OpenAI-compatible endpoint, else None."""
    entry = ModelEntry.objects.filter(name=name, enabled=True, kind=ModelKind.ENDPOINT).select_related(
        "endpoint").first()
    if entry is None or not hasattr(entry, "endpoint"):
        return None
    return EndpointConfig.from_entry(entry)


def endpoint_configs_enabled() -> list[EndpointConfig]:
    """Every shared endpoint that is on (the health pages probe them)."""
    entries = ModelEntry.objects.filter(enabled=True, kind=ModelKind.ENDPOINT, endpoint__isnull=False)
    return [EndpointConfig.from_entry(e) for e in entries.select_related("endpoint")]


def model_is_endpoint(*, name: str) -> bool:
    return ModelEntry.objects.filter(name=name, kind=ModelKind.ENDPOINT).exists()


def models_usable_by(*, user) -> QuerySet[ModelEntry]:
    """Shared models plus the employee's own fine-tunes (the policy decides)."""
    return policy.models_usable_by(user, ModelEntry.objects.all())


def model_usable_by(*, user, name: str) -> bool:
    """Asked by every socket message and page that names a model."""
    return isinstance(name, str) and models_usable_by(user=user).filter(name=name).exists()


def causal_models_usable_by(*, user) -> QuerySet[ModelEntry]:
    """Models that generate text: ours, employees' fine-tunes, and inference endpoints."""
    language_models = [ModelKind.CAUSAL_LM, ModelKind.ENDPOINT]
    return models_usable_by(user=user).filter(kind__in=language_models).order_by("owner_id", "-is_builtin", "name")


def run_visible_to(*, user, run: PlaygroundRun) -> bool:
    return policy.may_view_run(user, run)


def runs_for_user(*, user, limit: int = 50) -> QuerySet[PlaygroundRun]:
    return PlaygroundRun.objects.filter(user=user).defer("tokens")[:limit]
