"""View decorators over the access policy (core/policy.py).

Roles nest for pages: an admin may open everything a manager may, and a manager
everything an employee may. Which *rows* a page shows is the policy's business too;
these only guard the door.
"""

from functools import wraps

from django.core.exceptions import PermissionDenied

from . import policy
from .roles import Role

# The predicate that opens the pages of each role.
DOOR = {Role.EMPLOYEE: policy.may_learn, Role.MANAGER: policy.may_see_dashboards, Role.ADMIN: policy.may_administer}


def has_role(user, role: str) -> bool:
    return DOOR[role](user)


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

