"""The directory's bearer tokens: made, rotated and revoked by an admin (manage.py
scim_token), checked on every SCIM request. Only a token's SHA-256 is stored."""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.services import COMMAND, Origin, audit_record

from .models import ScimToken

PREFIX = "scim_"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _new_raw() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_create(*, name: str, origin: Origin = COMMAND) -> tuple[ScimToken, str]:
    """A new token; returns the row and the token itself, which is never stored."""
    raw = _new_raw()
    token = ScimToken(name=name, digest=_digest(raw))
    token.full_clean()
    with transaction.atomic():
        token.save()
        audit_record(action="scim_token.created", origin=origin, target=token)
    return token, raw


def token_rotate(*, name: str, origin: Origin = COMMAND) -> tuple[ScimToken, str]:
    """Replace a token's secret (the old one stops working at once); a revoked token
    comes back to life only by rotation."""
    raw = _new_raw()
    with transaction.atomic():
        token = ScimToken.objects.select_for_update().filter(name=name).first()
        if token is None:
            raise ValidationError(f"no SCIM token named {name!r}")
        token.digest, token.rotated_at, token.revoked_at = _digest(raw), timezone.now(), None
        token.save(update_fields=["digest", "rotated_at", "revoked_at"])
        audit_record(action="scim_token.rotated", origin=origin, target=token)
    return token, raw


def token_revoke(*, name: str, origin: Origin = COMMAND) -> ScimToken:
    with transaction.atomic():
        token = ScimToken.objects.select_for_update().filter(name=name).first()
        if token is None:
            raise ValidationError(f"no SCIM token named {name!r}")
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit_record(action="scim_token.revoked", origin=origin, target=token)
    return token


def token_authenticate(*, header: str) -> ScimToken | None:
    """The live token an `Authorization: Bearer …` header presents, or None."""
    scheme, _, raw = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    token = ScimToken.objects.filter(digest=_digest(raw.strip()), revoked_at__isnull=True).first()
    if token is not None and (token.last_used_at is None
                              or (timezone.now() - token.last_used_at).total_seconds() > 60):
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token
