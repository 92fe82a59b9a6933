"""Company sign-in: who the identity provider says someone is, applied here at every
sign-in. The protocols (OIDC in accounts/oidc.py, SAML in accounts/saml.py) are the
libraries'; this module only maps what they verified onto people, teams and roles."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from audit.services import Origin

from .models import ExternalIdentity, Role, User
from .services import team_get_or_create, user_create_or_update


def oidc_enabled() -> bool:
    return bool(settings.OIDC_RP_CLIENT_ID)


def saml_enabled() -> bool:
    return bool(settings.SAML_CONFIG)


class SSORefused(Exception):
    """A sign-in the site refuses. `code` is for the audit log; `message` is what the
    person reads (translated). Nothing is created when one is raised."""

    MESSAGES = {
        "token_invalid": _("The identity provider's answer could not be verified (its signature, "
                           "issuer, audience or validity did not match). Nothing was changed; "
                           "please sign in again."),
        "state_mismatch": _("This sign-in was not started from this browser, or it was already "
                            "used. Please start again from the sign-in page."),
        "idp_error": _("The identity provider did not sign you in. Please try again or ask IT."),
        "unverified_email": _("An account with this email already exists here, and your identity "
                              "provider has not verified that the email is yours, so it was not "
                              "linked. Ask IT to verify your email at the identity provider."),
        "no_identity": _("The identity provider did not say who you are (no subject or email)."),
        "inactive": _("This account is deactivated."),
        "replayed": _("This sign-in response was already used. Please start again from the "
                      "sign-in page."),
    }

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail

    @property
    def message(self):
        return self.MESSAGES.get(self.code, self.MESSAGES["idp_error"])


@dataclass(frozen=True)
class IdPIdentity:
    """What a verified token or assertion says about a person."""

    issuer: str
    subject: str
    email: str = ""
    email_verified: bool = False
    name: str = ""
    username: str = ""  # the IdP's preferred username, a hint for a new account only
    groups: list[str] = field(default_factory=list)
    department: str = ""


def role_from_groups(groups: list[str]) -> str:
    """SSO_ADMIN_GROUPS beat SSO_MANAGER_GROUPS; anyone else is an employee."""
    groups = set(groups)
    if groups & set(settings.SSO_ADMIN_GROUPS):
        return Role.ADMIN
    if groups & set(settings.SSO_MANAGER_GROUPS):
        return Role.MANAGER
    return Role.EMPLOYEE


def _new_username(identity: IdPIdentity) -> str:
    """A free username for a new person. A username already taken is never a link to
    that account: the new person gets a suffixed one."""
    base = (identity.username or identity.email or identity.subject)[:140]
    base = "".join(c for c in base if c.isalnum() or c in "@.+-_") or "user"
    candidate, n = base, 1
    while User.objects.filter(username=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _linked_user(identity: IdPIdentity) -> User | None:
    link = ExternalIdentity.objects.select_related("user").filter(
        issuer=identity.issuer, subject=identity.subject).first()
    if link is not None:
        return link.user
    if not identity.email:
        return None
    existing = User.objects.filter(email__iexact=identity.email).order_by("pk").first()
    if existing is None:
        return None
    if not identity.email_verified:
        raise SSORefused("unverified_email", identity.email)
    return existing


def user_provision_from_idp(*, identity: IdPIdentity, origin: Origin) -> User:
    """The person this identity signs in as, created or brought up to date with the
    directory: name and email from the token, role from the groups, team from the
    department. Runs at every sign-in, so a demotion or a move at the identity provider
    holds from the next one. An existing account is linked only on a verified email.

    Two first sign-ins that collide (the same person in two tabs, two people wanting one
    username) lose nothing: the loser's transaction is rolled back and tried again, and
    then finds the winner's link or picks another username."""
    if not identity.subject:
        raise SSORefused("no_identity")
    for attempt in range(3):
        last = attempt == 2
        try:
            return _provision(identity, origin)
        except IntegrityError:
            if last:
                raise
        except ValidationError as exc:
            # The other sign-in committed the username between our check and our save.
            taken = any(e.code == "unique" for e in getattr(exc, "error_dict", {}).get("username", []))
            if last or not taken:
                raise SSORefused("idp_error", str(exc)[:300]) from exc
    raise AssertionError("unreachable")


@transaction.atomic
def _provision(identity: IdPIdentity, origin: Origin) -> User:
    user = _linked_user(identity)
    if user is not None and not user.is_active:
        raise SSORefused("inactive", user.username)
    team = (team_get_or_create(name=identity.department[:100], origin=origin)
            if identity.department.strip() else None)
    user = user_create_or_update(
        username=user.username if user else _new_username(identity),
        email=identity.email or (user.email if user else ""),
        name=identity.name or (user.name if user else ""),
        role=role_from_groups(identity.groups),
        team=team,
        origin=origin,
    )
    ExternalIdentity.objects.get_or_create(issuer=identity.issuer, subject=identity.subject,
                                           defaults={"user": user})
    return user
