from django.conf import settings
from django.contrib.auth.backends import ModelBackend


def local_password_allowed(username: str) -> bool:
    """With SSO_LOCAL_PASSWORDS off (production with company sign-in), only the
    break-glass accounts in SSO_BREAK_GLASS_USERNAMES may sign in with a password."""
    return settings.SSO_LOCAL_PASSWORDS or username in settings.SSO_BREAK_GLASS_USERNAMES


class LocalPasswordBackend(ModelBackend):
    """Django's password check, behind SSO_LOCAL_PASSWORDS. Sessions it already made
    are not affected (get_user is the parent's)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is not None and not local_password_allowed(username):
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
