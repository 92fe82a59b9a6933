"""Sign-ins, failed sign-ins and sign-outs in the audit log: one entry per event,
whichever door (the password form, OpenID Connect, SAML). Wired in AccountsConfig.ready()."""

from __future__ import annotations

from audit.models import Source
from audit.services import Origin, audit_record, client_address

_RECORDED = "_login_failed_recorded"

# The authentication backends of company sign-in; any other is a local password.
IDP_BACKENDS = ("accounts.oidc.OIDCBackend", "accounts.saml.SAMLBackend")


def login_failed_record(request, *, reason: str, protocol: str, username: str = "", detail: str = "") -> None:
    """One `auth.login_failed` entry per failed attempt, even when both Django's signal
    and the sign-in view see the same failure."""
    if request is not None and getattr(request, _RECORDED, False):
        return
    if request is not None:
        setattr(request, _RECORDED, True)
    source = Source.WEB if protocol == "password" else Source.IDP
    audit_record(action="auth.login_failed",
                 origin=Origin(source=source, address=client_address(request), label=username or protocol),
                 after={"protocol": protocol, "reason": reason, "username": username, "detail": detail[:300]})


def on_user_logged_in(sender, request, user, **kwargs):
    backend = getattr(user, "backend", "") or ""
    protocol = {"accounts.oidc.OIDCBackend": "oidc", "accounts.saml.SAMLBackend": "saml"}.get(backend, "password")
    source = Source.IDP if backend in IDP_BACKENDS else Source.WEB
    audit_record(action="auth.login", origin=Origin(source=source, actor=user, address=client_address(request)),
                 target=user, after={"protocol": protocol})


def on_user_logged_out(sender, request, user, **kwargs):
    if user is None:  # no one was signed in
        return
    audit_record(action="auth.logout", origin=Origin(source=Source.WEB, actor=user, address=client_address(request)),
                 target=user)


def on_user_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username") or "")
    login_failed_record(request, reason="bad_credentials", protocol="password", username=username)
