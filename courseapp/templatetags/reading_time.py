"""`{{ seconds|reading_time }}`: a time spent on lessons, as people say it (45 s, 12 min, 1 h 05 min)."""

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def reading_time(seconds) -> str:
    seconds = max(0, int(seconds or 0))
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    minutes = seconds // 60
    if minutes < 60:
        return _("%(m)d min") % {"m": minutes}
    return _("%(h)d h %(m)02d min") % {"h": minutes // 60, "m": minutes % 60}
