"""{% link 'name' arg ... %}: the path {% url %} gives, remembered per process
(core/reverse.py), for links drawn on every request of a hot page."""

from django import template

from core.reverse import cached_reverse

register = template.Library()


@register.simple_tag
def link(name: str, *args) -> str:
    return cached_reverse(name, *args)
