from django.shortcuts import render

from accounts.models import Role
from core.permissions import role_required

from .selectors import models_enabled


@role_required(Role.EMPLOYEE)
def index(request):
    return render(request, "playground/index.html", {"models": models_enabled()})
