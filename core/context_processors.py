from django.utils.translation import gettext_lazy as _

from .permissions import has_role
from .reverse import cached_reverse
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
    ("dashboards:literacy", _("AI literacy"), Role.ADMIN),
    ("audit:log", _("Audit log"), Role.ADMIN),
]


# The URLs every page's layout links to (base.html), by short name.
SITE_URLS = {
    "home": "core:home",
    "set_language": "set_language",
    "logout": "accounts:logout",
    "js_catalog": "javascript-catalog",
}


def navigation(request):
    """The layout's links: `site_urls` (SITE_URLS) and `nav_items`, what the user's role may
    open; each reversed once per process, not on every page."""
    context = {"site_urls": {key: cached_reverse(name) for key, name in SITE_URLS.items()}, "nav_items": []}
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    path = request.path
    for name, label, role in NAV:
        if has_role(user, role):
            url = cached_reverse(name)
            context["nav_items"].append({"url": url, "label": label, "active": path.startswith(url)})
    return context
