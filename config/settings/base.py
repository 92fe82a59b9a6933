"""Base settings, driven by environment variables.

With nothing set you get the embedded default: SQLite under var/, an in-memory
channel layer, the model worker inside the server process and a Celery broker on
the local filesystem. Setting DATABASE_URL and REDIS_URL switches the same code to
PostgreSQL and Redis. `.env.example` lists every variable.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

# Django-free constants (no torch): the limits' defaults and the default models' names.
from playground.ml import kinds, limits, provision

from .env import env_bool, env_int, env_list, env_str
from .storage import s3_storage

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("LLM_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

# Never reach a model hub at run time; missing weights give a clear error instead.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The embedded default is for one machine; production overrides this with a mandatory secret.
SECRET_KEY = env_str("SECRET_KEY", "embedded-insecure-key-change-me-in-production-0123456789")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "core",
    "accounts",
    "courseapp",
    "playground",
    "training",
    "dashboards",
    "audit",
    "scim",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "djangosaml2.middleware.SamlSessionMiddleware",  # request.saml_session, for SAML sign-in
    # Every page requires login unless its view is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Selectors and services raise core.errors.NotFound (they run in Celery too); a 404 here.
    # Keep it last and sync only: it makes the whole chain run in one thread per request.
    "core.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several processes share the embedded database (server, Celery worker): WAL
    # lets readers proceed while one writes, and the timeout waits out a writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    # Test runs share a file, not :memory:, so a real Celery worker process can see it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- Company sign-in (OpenID Connect and SAML 2.0) ----------------------------------
# Nothing set: local accounts only, no identity provider (docs/DEPLOY.md, "Company sign-in").
SSO_COMPANY_NAME = env_str("SSO_COMPANY_NAME", "your company")  # "Sign in with <company>"
# Off in production with company sign-in: passwords then work only for the break-glass
# usernames (an admin who can still get in when the identity provider cannot be reached).
SSO_LOCAL_PASSWORDS = env_bool("SSO_LOCAL_PASSWORDS", True)
SSO_BREAK_GLASS_USERNAMES = env_list("SSO_BREAK_GLASS_USERNAMES", "")
# The mapping applied at every sign-in: directory groups to roles, a claim to the team.
SSO_GROUPS_CLAIM = env_str("SSO_GROUPS_CLAIM", "groups")
SSO_TEAM_CLAIM = env_str("SSO_TEAM_CLAIM", "department")
SSO_ADMIN_GROUPS = env_list("SSO_ADMIN_GROUPS", "")
SSO_MANAGER_GROUPS = env_list("SSO_MANAGER_GROUPS", "")

# OpenID Connect (mozilla-django-oidc's settings, read from variables of the same name).
# Enabled when OIDC_RP_CLIENT_ID is set; the endpoints are in the provider's
# /.well-known/openid-configuration.
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID", "")
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET", "")
OIDC_OP_ISSUER = env_str("OIDC_OP_ISSUER", "")  # the ID token's `iss` must equal it
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT", "")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT", "")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT", "")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT", "")
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile")
OIDC_USE_NONCE = True
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_CLOCK_SKEW_SECONDS = env_int("OIDC_CLOCK_SKEW_SECONDS", 60)
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)
OIDC_AUTHENTICATION_CALLBACK_URL = "accounts:oidc_callback"
OIDC_STORE_ACCESS_TOKEN = OIDC_STORE_ID_TOKEN = False  # nothing of the tokens is kept
AUTHENTICATION_BACKENDS = ["accounts.backends.LocalPasswordBackend"]
if OIDC_RP_CLIENT_ID:
    AUTHENTICATION_BACKENDS.append("accounts.oidc.OIDCBackend")

# SAML 2.0 (djangosaml2 + pysaml2, which runs Debian's xmlsec1). Enabled when the
# identity provider's metadata is given, by URL or as a file; SAML_SP_BASE_URL is how the
# provider reaches this site. Our entity id is <base>/accounts/sso/saml/metadata/ (the
# metadata is served there) and the ACS URL <base>/accounts/sso/saml/acs/.
SAML_IDP_METADATA_URL = env_str("SAML_IDP_METADATA_URL", "")
SAML_IDP_METADATA_FILE = env_str("SAML_IDP_METADATA_FILE", "")
SAML_SP_BASE_URL = env_str("SAML_SP_BASE_URL", "")
# SAML has no email_verified: say whether this provider's email attribute comes from the
# directory (1), so that it may link an existing local account with the same email.
SAML_EMAIL_VERIFIED = env_bool("SAML_EMAIL_VERIFIED", False)
SAML_EMAIL_ATTRIBUTE = env_str("SAML_EMAIL_ATTRIBUTE", "email")
SAML_NAME_ATTRIBUTE = env_str("SAML_NAME_ATTRIBUTE", "displayName")
SAML_CONFIG = {}
if SAML_IDP_METADATA_URL or SAML_IDP_METADATA_FILE:
    from .saml import saml_config

    SAML_CONFIG = saml_config(base_url=SAML_SP_BASE_URL, metadata_url=SAML_IDP_METADATA_URL,
                              metadata_file=SAML_IDP_METADATA_FILE,
                              clock_skew=env_int("SAML_CLOCK_SKEW_SECONDS", 60))
    AUTHENTICATION_BACKENDS.append("accounts.saml.SAMLBackend")
# The IdP posts its answer cross-site: the cookie holding our outstanding requests must be
# SameSite=None (and so Secure, as production's are).
SAML_SESSION_COOKIE_NAME = "saml_session"
SAML_CSP_HANDLER = ""  # our ContentSecurityPolicyMiddleware sets the policy
SAML_SESSION_COOKIE_SAMESITE = env_str("SAML_SESSION_COOKIE_SAMESITE", "None")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The default storage holds artifacts that cross hosts: uploaded datasets, fine-tune
# outputs and CSV exports (see "Artifacts" below); the filesystem in the embedded default.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Embedded mode serves straight from the source folders, so no collectstatic step
# slows the start; production collects into hashed, compressed files instead.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is absent
MEDIA_ROOT = VAR_DIR / "media"

# --- Artifacts: datasets, fine-tune outputs, exports ---------------------------------
# Hosts share no disk in production: with LLM_S3_BUCKET set, artifacts live in an
# S3-compatible object store (AWS S3, SeaweedFS, MinIO, Ceph...) through django-storages;
# unset, they stay in MEDIA_ROOT on this host's disk. See docs/DEPLOY.md.
LLM_S3_BUCKET = env_str("LLM_S3_BUCKET", "")
if LLM_S3_BUCKET:
    STORAGES["default"] = s3_storage()
# A model worker's own copies of fine-tunes fetched from the store (checked by sha256).
LLM_MODEL_CACHE_DIR = Path(env_str("LLM_MODEL_CACHE_DIR", str(VAR_DIR / "model-cache")))
LLM_MODEL_CACHE_MAX_MB = env_int("LLM_MODEL_CACHE_MAX_MB", 20_000)  # least recently used copies go first

REDIS_URL = env_str("REDIS_URL", "")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 defaults to a 5 s socket timeout, the same as channels_redis'
                # blocking-pop timeout, so an idle receive would die with "Timeout reading".
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                # Token events are coalesced; this is headroom for bursts, not a queue.
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 500),
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Django's cache: course structure and lesson bodies (courseapp/selectors.py), keyed by
# the course's updated_at, so an edit shows on the next request from any process.
# "default" is shared by every web process (Redis; in memory in the embedded default);
# "template_fragments" is each process's own copy of the {% cache %} fragments, whose
# keys name their version and which therefore never change. (Each process also keeps
# the content objects themselves: courseapp.selectors._local_content.)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "llm-academy"},
    "template_fragments": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                           "LOCATION": "llm-academy-local", "OPTIONS": {"MAX_ENTRIES": 1000}},
}
if REDIS_URL:
    CACHES["default"] = {"BACKEND": "core.redis_cache.SharedRedisCache", "LOCATION": REDIS_URL,
                         "KEY_PREFIX": "llm-academy"}
# Course pages keep the course row in the shared cache this long (courseapp.selectors.
# course_get); saves through the site clear it at once. Off in the embedded default, whose
# cache is per process (and SQLite's read costs next to nothing there).
COURSE_ROW_CACHE_SECONDS = env_int("COURSE_ROW_CACHE_SECONDS", 30 if REDIS_URL else 0)

# --- Celery -----------------------------------------------------------------
# The embedded broker is kombu's filesystem transport: no server, and it supports
# the fanout exchange that worker pings (`celery inspect ping`) need.
CELERY_BROKER_DIR = Path(env_str("CELERY_BROKER_DIR", str(VAR_DIR / "celery-broker")))
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        # The transport polls its folders; 1 s (the default) made worker pings miss
        # their 1 s window under load. Five listings a second cost next to nothing.
        "polling_interval": 0.2,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Must exceed the longest job, or Redis redelivers a job still running.
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 6 * 3600),
    }
# Job state lives in our own tables (the DB row is the truth), not a result backend.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_DEFAULT_QUEUE", "default")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Run exactly one `celery beat` per deployment (embedded: `serve` adds --beat to its worker).
CELERY_BEAT_SCHEDULE = {
    "dashboards-daily-reminders": {
        "task": "dashboards.tasks.reminders_send_daily",
        "schedule": crontab(hour=env_int("REMINDER_HOUR", 7), minute=0),
    },
    # Requeue or fail fine-tunes whose worker or pool process died, once per heartbeat
    # interval, so none stays "running" longer than the stale threshold plus one beat.
    # A run that finds every worker busy expires instead of piling up.
    "training-recover-stale": {
        "task": "training.tasks.training_recover_stale",
        "schedule": float(env_int("TRAINING_HEARTBEAT_SECONDS", 2)),
        "options": {"expires": float(env_int("TRAINING_HEARTBEAT_SECONDS", 2))},
    },
    # Audit entries older than AUDIT_RETENTION_DAYS go, once a day (docs/DEPLOY.md, "Audit log").
    "audit-purge-expired": {
        "task": "audit.tasks.audit_purge_daily",
        "schedule": crontab(hour=env_int("AUDIT_PURGE_HOUR", 3), minute=30),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Models and the model worker -------------------------------------------
LLM_MODEL_DIR = Path(env_str("LLM_MODEL_DIR", str(VAR_DIR / "models")))
LLM_DEVICE = env_str("LLM_DEVICE", "auto")  # auto | cpu | cuda | cuda:N
# Run the model worker inside the ASGI server (embedded) or as its own process.
LLM_EMBEDDED_WORKER = env_bool("LLM_EMBEDDED_WORKER", not REDIS_URL)
LLM_WORKER_NAME = env_str("LLM_WORKER_NAME", "")
# The model of each kind that fine-tunes start from and the attention page opens on.
LLM_DEFAULT_MODELS = {
    kinds.CAUSAL_LM: env_str("LLM_DEFAULT_CAUSAL_LM", provision.SMOLLM2_NAME),
    kinds.ENCODER: env_str("LLM_DEFAULT_ENCODER", provision.MINILM_NAME),
}
# Playground limits; each gives the employee a clear message when hit.
LLM_MAX_PROMPT_TOKENS = env_int("LLM_MAX_PROMPT_TOKENS", limits.MAX_PROMPT_TOKENS)
LLM_MAX_NEW_TOKENS = env_int("LLM_MAX_NEW_TOKENS", limits.MAX_NEW_TOKENS)
LLM_MAX_CONCURRENT_PER_USER = env_int("LLM_MAX_CONCURRENT_PER_USER", 2)
LLM_MAX_BATCH = env_int("LLM_MAX_BATCH", 0)  # sequences per forward pass; 0 = follow the device (8 on CPU, 64+ on GPU)
LLM_MAX_WAITING = env_int("LLM_MAX_WAITING", 16)  # queued beyond the batch before "busy"
# Attention views: token caps (the heatmap scales further than bertviz) and cache size.
LLM_ATTENTION_MAX_TOKENS = env_int("LLM_ATTENTION_MAX_TOKENS", 256)
LLM_BERTVIZ_HEAD_MAX_TOKENS = env_int("LLM_BERTVIZ_HEAD_MAX_TOKENS", 48)
LLM_BERTVIZ_MODEL_MAX_TOKENS = env_int("LLM_BERTVIZ_MODEL_MAX_TOKENS", 32)
LLM_BERTVIZ_MAX_LAYERS = env_int("LLM_BERTVIZ_MAX_LAYERS", 4)
LLM_ATTENTION_CACHE = env_int("LLM_ATTENTION_CACHE", 8)
# Layer view (logit lens) and switch-offs: positions in one grid, prompts a worker keeps.
LLM_LENS_MAX_TOKENS = env_int("LLM_LENS_MAX_TOKENS", 64)
LLM_LENS_CACHE = env_int("LLM_LENS_CACHE", 8)
LLM_MAX_ON_DEMAND_MODELS = env_int("LLM_MAX_ON_DEMAND_MODELS", 3)  # employees' fine-tunes kept loaded per worker
# Shared channel the model workers take requests from; one deployment, one name.
LLM_REQUESTS_CHANNEL = env_str("LLM_REQUESTS_CHANNEL", "llm.requests")

# --- Fine-tunes ------------------------------------------------------------------
# The queue this process's fine-tunes go to (per GPU: gpu0, gpu1, ... with workers
# started `-Q gpu0,default`); jobs record it.
TRAINING_QUEUE = env_str("TRAINING_QUEUE", CELERY_TASK_DEFAULT_QUEUE)
TRAINING_DEVICE = env_str("TRAINING_DEVICE", "auto")  # auto | cpu | cuda | cuda:N, in the child only
# The training child beside the model worker (playground/ml/resources.py, docs/DEPLOY.md
# "Interactive work first"): its torch threads (0: the policy's, one per usable CPU),
# its CPU priority (idle: SCHED_IDLE, it only gets CPUs nothing else wants; batch:
# SCHED_BATCH + nice 19; normal: as the Celery worker), a passive OpenMP wait, and on a
# GPU its share of the device's memory (0: 0.4, leaving the model worker its KV caches).
TRAINING_CPU_THREADS = env_int("TRAINING_CPU_THREADS", 0)
TRAINING_CPU_PRIORITY = env_str("TRAINING_CPU_PRIORITY", "idle")
TRAINING_OMP_PASSIVE = env_bool("TRAINING_OMP_PASSIVE", True)
TRAINING_CUDA_MEMORY_FRACTION = float(env_str("TRAINING_CUDA_MEMORY_FRACTION", "0") or 0)
TRAINING_MAX_ATTEMPTS = env_int("TRAINING_MAX_ATTEMPTS", 2)  # a job whose worker died is requeued up to here
TRAINING_CANCEL_GRACE_SECONDS = env_int("TRAINING_CANCEL_GRACE_SECONDS", 5)  # then SIGTERM, then SIGKILL
TRAINING_JOB_MAX_SECONDS = env_int("TRAINING_JOB_MAX_SECONDS", 2 * 3600)  # the runner stops the child
TRAINING_SOFT_TIME_LIMIT = env_int("TRAINING_SOFT_TIME_LIMIT", TRAINING_JOB_MAX_SECONDS + 300)  # Celery's
TRAINING_HARD_TIME_LIMIT = env_int("TRAINING_HARD_TIME_LIMIT", TRAINING_SOFT_TIME_LIMIT + 120)
# A running job without a heartbeat for this long belongs to a dead worker.
TRAINING_HEARTBEAT_STALE_SECONDS = env_int("TRAINING_HEARTBEAT_STALE_SECONDS", 60)
# How often a runner writes its heartbeat and checks for cancel (and beat runs the recovery).
TRAINING_HEARTBEAT_SECONDS = env_int("TRAINING_HEARTBEAT_SECONDS", 2)
# Quota defaults; admins override them per employee.
TRAINING_DEFAULT_MAX_CONCURRENT = env_int("TRAINING_DEFAULT_MAX_CONCURRENT", 2)
TRAINING_DEFAULT_GPU_SECONDS_PER_WEEK = env_int("TRAINING_DEFAULT_GPU_SECONDS_PER_WEEK", 4 * 3600)
# Dataset caps, checked before a job is queued.
TRAINING_MAX_UPLOAD_BYTES = env_int("TRAINING_MAX_UPLOAD_BYTES", 2_000_000)
TRAINING_MAX_ROWS = env_int("TRAINING_MAX_ROWS", 5_000)
TRAINING_MAX_ROW_TOKENS = env_int("TRAINING_MAX_ROW_TOKENS", 1_024)
TRAINING_MAX_STEPS = env_int("TRAINING_MAX_STEPS", 2_000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "llm-academy@localhost")
# SMTP when EMAIL_BACKEND is django.core.mail.backends.smtp.EmailBackend.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)

# --- Courses ------------------------------------------------------------------
# The lesson page counts active reading time (visible, with a scroll, key or pointer
# within LESSON_IDLE_SECONDS) and reports it this often, and when it is left. One report
# adds at most 120 s (courseapp.services.MAX_TIME_REPORT_SECONDS), so keep this below.
LESSON_TIME_REPORT_SECONDS = env_int("LESSON_TIME_REPORT_SECONDS", 30)
LESSON_IDLE_SECONDS = env_int("LESSON_IDLE_SECONDS", 60)

# --- Dashboards ---------------------------------------------------------------
# Employees get a daily reminder while an assignment is due within this many days.
REMINDER_DAYS_BEFORE = env_int("REMINDER_DAYS_BEFORE", 3)
# A CSV export estimated above this many rows is built by a Celery job instead of in the
# request; its file goes to the default storage (exports/), where any web host reads it.
EXPORT_INLINE_MAX_ROWS = env_int("EXPORT_INLINE_MAX_ROWS", 5000)

# --- Audit log ----------------------------------------------------------------
# Entries older than this many days are deleted by audit_purge_expired (daily, Celery
# beat); 0 keeps everything. Five years by default: what an AI-literacy record is filed for.
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 5 * 365)

# --- Directory sync (SCIM 2.0, /scim/v2/) -------------------------------------------
# django-scim2 serves the protocol; our adapters map it onto people and teams (scim/).
# Members of the group with this name have the manager role; every other group is a team.
SCIM_MANAGER_GROUP = env_str("SCIM_MANAGER_GROUP", "LLM Academy managers")
SCIM_SERVICE_PROVIDER = {
    "NETLOC": "unused",  # locations follow the request (scim.auth.base_location)
    "AUTHENTICATION_SCHEMES": [{"type": "oauthbearertoken", "name": "Bearer token", "primary": True}],
    "USER_ADAPTER": "scim.adapters.UserAdapter",
    "GROUP_ADAPTER": "scim.adapters.GroupAdapter",
    "GROUP_MODEL": "scim.models.DirectoryGroup",
    "USER_FILTER_PARSER": "scim.filters.UserFilter",
    "GROUP_FILTER_PARSER": "scim.filters.GroupFilter",
    "SERVICE_PROVIDER_CONFIG_MODEL": "scim.config.ServiceProviderConfig",
    "BASE_LOCATION_GETTER": "scim.auth.base_location",
    "GET_EXTRA_MODEL_FILTER_KWARGS_GETTER": "scim.config.extra_filter_kwargs_getter",
    "AUTH_CHECK_MIDDLEWARE": "scim.auth.BearerTokenCheck",
    "SCHEMAS_GETTER": "scim.schemas.schemas_getter",
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="scim"',
}

SESSION_COOKIE_HTTPONLY = True
# With Redis, sessions are read from the shared cache and written through to the database,
# so a page costs one PostgreSQL query less and a cache flush loses no one's login. Not in
# the embedded default: its cache is per process, and a logout there would not reach the
# copy another process holds.
if REDIS_URL:
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
X_FRAME_OPTIONS = "DENY"  # views that embed our own pages opt in per view
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
