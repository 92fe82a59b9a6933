"""Writes to the audit log. Every service that changes something an auditor asks about
calls `audit_record` in its own transaction, so the entry exists exactly when the change
does (a rolled-back change leaves no entry)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from .models import AuditEntry, Source


def client_address(request) -> str | None:
    """The address a request came from (uvicorn has already applied the trusted proxy's
    X-Forwarded-For to REMOTE_ADDR); None without a request or an address."""
    return (request.META.get("REMOTE_ADDR") or None) if request is not None else None


@dataclass(frozen=True)
class Origin:
    """Who is acting and from where; passed down from the interface (view, command,
    sign-in, SCIM) to the services that record what they change."""

    source: str = Source.SYSTEM
    actor: Any = None  # a User, or None for the system, a CSV file, the directory
    address: str | None = None
    token: str = ""
    label: str = ""  # who, when there is no user (e.g. "scim:okta-prod")

    @classmethod
    def from_request(cls, request, *, source: str = Source.WEB) -> Origin:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
        return cls(source=source, actor=actor, address=client_address(request))


SYSTEM = Origin()
COMMAND = Origin(source=Source.COMMAND, label="manage.py")


def _target_fields(target) -> dict:
    if target is None:
        return {}
    if isinstance(target, models.Model):
        return {"target_type": target._meta.label_lower, "target_id": str(target.pk),
                "target_label": str(target)[:200]}
    kind, pk, label = target
    return {"target_type": kind, "target_id": str(pk), "target_label": str(label)[:200]}


def audit_record(
    *,
    action: str,
    origin: Origin = SYSTEM,
    target=None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Append one entry. `target` is a model instance or a (type, id, label) triple;
    `before` and `after` hold only the fields that the action is about."""
    actor = origin.actor
    label = origin.label or (actor.get_username() if actor is not None else "") or origin.source
    entry = AuditEntry(
        action=action, source=origin.source, actor=actor, actor_label=label[:200],
        address=origin.address, token=origin.token[:100], before=before, after=after,
        **_target_fields(target),
    )
    entry.full_clean()
    entry.save()
    return entry


def audit_purge_expired(*, now=None) -> int:
    """Delete entries older than AUDIT_RETENTION_DAYS (0 keeps everything). Returns how many."""
    days = settings.AUDIT_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    # QuerySet.delete bypasses the model's delete(): this is the one sanctioned way out.
    deleted, _ = AuditEntry.objects.filter(at__lt=cutoff).delete()
    return deleted
