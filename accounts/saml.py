"""SAML 2.0 sign-in: djangosaml2 over pysaml2, configured in config/settings/saml.py. The
signature, audience, InResponseTo, validity-window and replay checks are pysaml2's and
djangosaml2's; this module maps a verified assertion to accounts.sso's provisioning and
ends every failure on the same refusal page as OpenID Connect."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404
from django.utils.decorators import method_decorator
from djangosaml2 import views as saml_views
from djangosaml2.backends import Saml2Backend
from saml2.response import UnsolicitedResponse

from audit.models import Source
from audit.services import Origin, client_address

from .sso import IdPIdentity, SSORefused, saml_enabled, user_provision_from_idp
from .sso_refusal import refusal


class SAMLBackend(Saml2Backend):
    def authenticate(self, request, session_info=None, attribute_mapping=None, create_unknown_user=True,
                     assertion_info=None, **kwargs):
        if not session_info or "ava" not in session_info:
            return None
        ava = session_info["ava"]

        def first(name):
            return str((ava.get(name) or [""])[0])

        name_id = session_info.get("name_id")
        identity = IdPIdentity(
            issuer=session_info["issuer"], subject=name_id.text if name_id is not None else "",
            email=first(settings.SAML_EMAIL_ATTRIBUTE), email_verified=settings.SAML_EMAIL_VERIFIED,
            name=first(settings.SAML_NAME_ATTRIBUTE), username=first("uid"),
            groups=[str(g) for g in ava.get(settings.SSO_GROUPS_CLAIM, [])],
            department=first(settings.SSO_TEAM_CLAIM),
        )
        origin = Origin(source=Source.IDP, address=client_address(request),
                        label=f"saml:{identity.issuer}")
        return user_provision_from_idp(identity=identity, origin=origin)


def _configured(view):
    def check(request, *args, **kwargs):
        if not saml_enabled():
            raise Http404("SAML sign-in is not configured")
        return view(request, *args, **kwargs)
    return check


@method_decorator([login_not_required, _configured], name="dispatch")
class SAMLLoginView(saml_views.LoginView):
    pass


@method_decorator([login_not_required, _configured], name="dispatch")
class SAMLMetadataView(saml_views.MetadataView):
    pass


@method_decorator([login_not_required, _configured], name="dispatch")
class SAMLACSView(saml_views.AssertionConsumerServiceView):
    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except SSORefused as exc:
            return refusal(request, exc, protocol="saml")

    def handle_acs_failure(self, request, exception=None, status=403, **kwargs):
        # An answer to no request this browser has open is a replay (or forged); anything
        # else (signature, audience, validity window) is an assertion we cannot trust.
        code = "replayed" if isinstance(exception, UnsolicitedResponse) else "token_invalid"
        return refusal(request, SSORefused(code, f"{type(exception).__name__}: {exception}"[:300]),
                       protocol="saml")
