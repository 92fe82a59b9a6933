from django.db.models import QuerySet

from core import policy

from .ml.loading import ModelSpec
from .models import ModelEntry, ModelKind, PlaygroundRun


def models_enabled() -> QuerySet[ModelEntry]:
    """Shared models every worker loads at start; employees' own fine-tunes load on demand."""
    return ModelEntry.objects.filter(enabled=True, owner__isnull=True)


def model_spec(entry: ModelEntry) -> ModelSpec:
    return ModelSpec(name=entry.name, kind=entry.kind, source=entry.source, adapter=entry.adapter)


def model_specs_enabled() -> list[ModelSpec]:
    return [model_spec(m) for m in models_enabled()]


def model_spec_by_name(name: str) -> ModelSpec | None:
    entry = ModelEntry.objects.filter(name=name, enabled=True).first()
    return model_spec(entry) if entry else None


def models_usable_by(*, user) -> QuerySet[ModelEntry]:
    """Shared models plus the employee's own fine-tunes (the policy decides)."""
    return policy.models_usable_by(user, ModelEntry.objects.all())


def model_usable_by(*, user, name: str) -> bool:
    """Asked by every socket message and page that names a model."""
    return isinstance(name, str) and models_usable_by(user=user).filter(name=name).exists()


def causal_models_usable_by(*, user) -> QuerySet[ModelEntry]:
    return models_usable_by(user=user).filter(kind=ModelKind.CAUSAL_LM).order_by("owner_id", "-is_builtin", "name")


def run_visible_to(*, user, run: PlaygroundRun) -> bool:
    return policy.may_view_run(user, run)


def runs_for_user(*, user, limit: int = 50) -> QuerySet[PlaygroundRun]:
    return PlaygroundRun.objects.filter(user=user).defer("tokens")[:limit]
