"""OpenID Connect sign-in: mozilla-django-oidc, configured (settings OIDC_*) and
extended at its documented hooks only.

The library checks `state` (the callback view), the nonce and the signature against the
provider's JWKS (OIDCAuthenticationBackend.verify_token), and sends PKCE's S256 challenge
(OIDC_USE_PKCE). It leaves the ID token's issuer and audience unchecked ("Maybe add a
settings to enforce audience validation"), so `_verify_jws` passes them to the same
PyJWT call, which then checks issuer, audience and expiry itself.
"""

from __future__ import annotations

import jwt
import requests
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.utils.decorators import method_decorator
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from audit.models import Source
from audit.services import Origin, client_address

from .sso import IdPIdentity, SSORefused, oidc_enabled, user_provision_from_idp
from .sso_refusal import refusal


def _claim_list(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value or []]


class OIDCBackend(OIDCAuthenticationBackend):
    def _verify_jws(self, payload, key):
        alg = jwt.get_unverified_header(payload).get("alg")
        if alg != self.OIDC_RP_SIGN_ALGO:
            raise SSORefused("token_invalid", f"algorithm {alg!r}")
        try:
            return jwt.decode(
                payload, key, algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID, issuer=settings.OIDC_OP_ISSUER,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=settings.OIDC_CLOCK_SKEW_SECONDS,
            )
        except jwt.PyJWTError as exc:
            raise SSORefused("token_invalid", f"{type(exc).__name__}: {exc}") from exc

    def verify_token(self, token, **kwargs):
        try:
            return super().verify_token(token, **kwargs)
        except SuspiciousOperation as exc:  # the library's nonce and key checks
            raise SSORefused("token_invalid", str(exc)) from exc

    def get_or_create_user(self, access_token, id_token, payload):
        """Provision at every sign-in, from the verified ID token and the userinfo
        endpoint (which speaks for the same `sub`, or is ignored)."""
        claims = dict(payload)
        userinfo = self.get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") == payload.get("sub"):
            claims.update(userinfo)
        department = claims.get(settings.SSO_TEAM_CLAIM) or ""
        identity = IdPIdentity(
            issuer=payload["iss"], subject=str(payload["sub"]),
            email=claims.get("email") or "", email_verified=claims.get("email_verified") is True,
            name=claims.get("name") or "", username=claims.get("preferred_username") or "",
            groups=_claim_list(claims.get(settings.SSO_GROUPS_CLAIM)),
            department=department if isinstance(department, str) else "",
        )
        origin = Origin(source=Source.IDP, address=client_address(self.request),
                        label=f"oidc:{identity.issuer}")
        return user_provision_from_idp(identity=identity, origin=origin)


@method_decorator(login_not_required, name="dispatch")
class OIDCStartView(OIDCAuthenticationRequestView):
    def get(self, request):
        if not oidc_enabled():
            raise Http404("OpenID Connect sign-in is not configured")
        return super().get(request)


@method_decorator(login_not_required, name="dispatch")
class OIDCCallbackView(OIDCAuthenticationCallbackView):
    """The library's callback; each way it can fail ends on one refusal page."""

    def get(self, request):
        if not oidc_enabled():
            raise Http404("OpenID Connect sign-in is not configured")
        try:
            return super().get(request)
        except SSORefused as exc:
            return refusal(request, exc, protocol="oidc")
        except SuspiciousOperation as exc:  # the library's state check
            return refusal(request, SSORefused("state_mismatch", str(exc)), protocol="oidc")
        except requests.RequestException as exc:  # the token or userinfo endpoint said no
            return refusal(request, SSORefused("idp_error", str(exc)[:200]), protocol="oidc")

    def login_failure(self):
        code = "idp_error" if self.request.GET.get("error") else "state_mismatch"
        return refusal(self.request, SSORefused(code, self.request.GET.get("error", "")), protocol="oidc")
