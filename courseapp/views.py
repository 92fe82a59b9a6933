from django.shortcuts import render

from accounts.models import Role
from core.permissions import role_required


@role_required(Role.EMPLOYEE)
def catalog(request):
    return render(request, "courseapp/catalog.html", {"courses": []})
