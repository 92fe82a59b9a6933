"""Role checks shared by views and consumers.

Roles nest: an admin may do everything a manager may, and a manager everything an
employee may. Managers only ever see their own teams; that scoping lives in the
selectors, not here.
"""

from functools import wraps

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied

from accounts.models import Role

RANK = {Role.EMPLOYEE: 0, Role.MANAGER: 1, Role.ADMIN: 2}


def has_role(user, role: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return RANK[user.effective_role] >= RANK[role]


def role_required(role: str):
    """View decorator: 403 for a logged-in user below `role`.

    Anonymous users never get here: LoginRequiredMiddleware sends them to log in.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class RoleRequiredMixin(AccessMixin):
    required_role = Role.EMPLOYEE

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not has_role(request.user, self.required_role):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)
