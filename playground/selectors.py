from django.db.models import QuerySet

from accounts.models import Role

from .ml.loading import ModelSpec
from .models import ModelEntry, ModelKind, PlaygroundRun


def models_enabled() -> QuerySet[ModelEntry]:
    return ModelEntry.objects.filter(enabled=True)


def model_specs_enabled() -> list[ModelSpec]:
    return [ModelSpec(name=m.name, kind=m.kind, source=m.source) for m in models_enabled()]


def causal_models_enabled() -> QuerySet[ModelEntry]:
    return models_enabled().filter(kind=ModelKind.CAUSAL_LM)


def run_visible_to(*, user, run: PlaygroundRun) -> bool:
    """The owner, a manager of the owner's team, or an admin."""
    if run.user_id == user.pk or user.effective_role == Role.ADMIN:
        return True
    team_id = run.user.team_id
    return team_id is not None and user.managed_teams.filter(pk=team_id).exists()


def runs_for_user(*, user, limit: int = 50) -> QuerySet[PlaygroundRun]:
    return PlaygroundRun.objects.filter(user=user).defer("tokens")[:limit]
