from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from . import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The team page moved to the dashboards app; old links and bookmarks still work.
    path("team/", RedirectView.as_view(pattern_name="dashboards:overview"), name="dashboard"),
]
