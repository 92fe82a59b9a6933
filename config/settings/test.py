"""Test settings: the base settings with fast substitutes, each for a reason."""

from .base import *  # noqa: F403  (settings modules layer by star import)
from .env import env_bool

# MD5 hashing makes creating users in tests ~100x faster; never use it for real.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Emails are captured in django.core.mail.outbox instead of printed.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tests start the model worker themselves, in their own event loop; a server
# process started by a browser test turns the embedded one back on.
LLM_EMBEDDED_WORKER = env_bool("LLM_EMBEDDED_WORKER", False)
# Every run trains new fine-tunes (new digests); keep the fetched copies under var/ small.
LLM_MODEL_CACHE_MAX_MB = 2000
# Lesson pages report reading time every 30 s; browser tests can't wait that long.
LESSON_TIME_REPORT_SECONDS = 2
# ... nor a minute of idleness to see that it stops counting.
LESSON_IDLE_SECONDS = 4
