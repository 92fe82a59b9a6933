from django.db.models import QuerySet

from .ml.loading import ModelSpec
from .models import ModelEntry


def models_enabled() -> QuerySet[ModelEntry]:
    return ModelEntry.objects.filter(enabled=True)


def model_specs_enabled() -> list[ModelSpec]:
    return [ModelSpec(name=m.name, kind=m.kind, source=m.source) for m in models_enabled()]
