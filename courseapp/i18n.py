"""Choosing the UI language's version of a translatable field."""

from django.utils.translation import get_language

# Django's language codes (lower case) → the keys used in course content.
CONTENT_KEYS = {"en": "en", "zh-hans": "zh-Hans"}
DEFAULT_KEY = "en"


def content_language() -> str:
    return CONTENT_KEYS.get((get_language() or DEFAULT_KEY).lower(), DEFAULT_KEY)


def pick(value, lang: str | None = None):
    """The text for `lang` (default: the active UI language), falling back to English."""
    if not isinstance(value, dict):
        return value or ""
    lang = lang or content_language()
    return value.get(lang) or value.get(DEFAULT_KEY) or ""
