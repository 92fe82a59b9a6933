from django.shortcuts import render

from .login_audit import login_failed_record
from .sso import SSORefused


def refusal(request, error: SSORefused, *, protocol: str):
    """The page a refused company sign-in ends on, after one `auth.login_failed` entry."""
    login_failed_record(request, reason=error.code, protocol=protocol, detail=error.detail)
    return render(request, "accounts/sso_refused.html", {"message": error.message}, status=400)
