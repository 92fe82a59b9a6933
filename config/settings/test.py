"""Test settings: the base settings with fast substitutes, each for a reason."""

from .base import *  # noqa: F403  (settings modules layer by star import)

# MD5 hashing makes creating users in tests ~100x faster; never use it for real.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Emails are captured in django.core.mail.outbox instead of printed.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests start the model worker themselves, in their own event loop.
LLM_EMBEDDED_WORKER = False
