from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import render
from django.utils.decorators import method_decorator

from core.permissions import role_required

from .models import Role
from .selectors import team_members, teams_visible_to


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


@role_required(Role.MANAGER)
def dashboard(request):
    teams = [(team, team_members(team=team)) for team in teams_visible_to(user=request.user)]
    return render(request, "accounts/dashboard.html", {"teams": teams})
