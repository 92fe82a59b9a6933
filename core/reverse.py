"""reverse(), remembered: the same name and arguments give the same path for as long as a
process runs (its URL patterns and script prefix are fixed), and Django's reverse costs
some 40-100 µs a call. For the links every page, or a hot page, draws."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse


@lru_cache(maxsize=4096)
def _reverse(name: str, args: tuple, script_prefix: str, urlconf: str) -> str:
    return reverse(name, args=args)


def cached_reverse(name: str, *args) -> str:
    return _reverse(name, tuple(str(a) for a in args), get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
