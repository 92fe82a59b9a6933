from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from . import oidc, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Company sign-in over OpenID Connect (404 unless OIDC_RP_CLIENT_ID is set).
    path("sso/oidc/start/", oidc.OIDCStartView.as_view(), name="oidc_start"),
    path("sso/oidc/callback/", oidc.OIDCCallbackView.as_view(), name="oidc_callback"),
    # Company sign-in over SAML 2.0 (404 unless the IdP's metadata is configured).
    path("sso/saml/login/", views.saml_view("SAMLLoginView"), name="saml_login"),
    path("sso/saml/acs/", views.saml_view("SAMLACSView"), name="saml_acs"),
    path("sso/saml/metadata/", views.saml_view("SAMLMetadataView"), name="saml_metadata"),
    # The team page moved to the dashboards app; old links and bookmarks still work.
    path("team/", RedirectView.as_view(pattern_name="dashboards:overview"), name="dashboard"),
]
