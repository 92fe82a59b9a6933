from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt

from .sso import oidc_enabled, saml_enabled


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        providers = []
        if oidc_enabled():
            providers.append({"protocol": "oidc", "url": "accounts:oidc_start"})
        if saml_enabled():
            providers.append({"protocol": "saml", "url": "accounts:saml_login"})
        return super().get_context_data(
            **kwargs, sso_providers=providers, company=settings.SSO_COMPANY_NAME,
            local_passwords=settings.SSO_LOCAL_PASSWORDS, break_glass=bool(settings.SSO_BREAK_GLASS_USERNAMES),
        )




def saml_view(name: str):
    """A view of accounts/saml.py, imported at its first request: pysaml2 takes about 3 s
    to import (its XML schemas), which no process should pay unless SAML is used.
    CSRF does not apply: the ACS receives the IdP's cross-site POST, which its signature
    and InResponseTo authenticate (djangosaml2 exempts it too)."""

    @csrf_exempt
    @login_not_required
    def view(request, *args, **kwargs):
        from . import saml

        return getattr(saml, name).as_view()(request, *args, **kwargs)

    return view
