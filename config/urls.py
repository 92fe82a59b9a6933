from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog, set_language

from ops.views import health_detail, healthz
from playground.curation import curation

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("health/", health_detail, name="health_detail"),  # admins: the detailed report
    # The language switcher must work on the login page too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    # The translations our scripts use (gettext/interpolate), in the language of the page.
    path("jsi18n/", login_not_required(JavaScriptCatalog.as_view()), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("learn/", include("courseapp.urls")),
    path("playground/", include("playground.urls")),
    path("training/", include("training.urls")),
    # Admins curate models (playground owns the registry) and see people and teams.
    path("curation/", curation, name="curation"),
    path("audit/", include("audit.urls")),  # admins: the audit log
    # Directory sync (SCIM 2.0): a bearer token, never a session (scim/auth.py).
    path("scim/v2/", include("scim.urls")),
    path("", include("dashboards.urls")),
    path("", include("core.urls")),
]
