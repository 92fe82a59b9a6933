from functools import cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import gettext_lazy as _

from .permissions import has_role
from .roles import Role

# (url name, label, minimum role); the layout shows what the user may open.
NAV = [
    ("courseapp:catalog", _("Courses"), Role.EMPLOYEE),
    ("playground:index", _("Playground"), Role.EMPLOYEE),
    ("training:index", _("Fine-tunes"), Role.EMPLOYEE),
    ("dashboards:my_progress", _("My progress"), Role.EMPLOYEE),
    ("dashboards:overview", _("Team dashboard"), Role.MANAGER),
    ("curation", _("Curation"), Role.ADMIN),
    ("courseapp:author", _("Authoring"), Role.ADMIN),
]


@cache
def _nav_url(name: str, script_prefix: str, urlconf: str) -> str:
    return reverse(name)  # the same every request: reversed once per process, not on every page


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    path = request.path
    items = []
    for name, label, role in NAV:
        if has_role(user, role):
            url = _nav_url(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
            items.append({"url": url, "label": label, "active": path.startswith(url)})
    return {"nav_items": items}
