"""Django settings, read from the environment.

Two shapes share this file. With nothing set, Central runs *embedded*: SQLite in the data
directory, an in-process channel layer, in-process background jobs and no Redis, so one
command on a fresh machine shows a working system. With ``CENTRAL_ENV=production`` it expects
PostgreSQL and Redis and refuses to start with a demo secret key or DEBUG on, because those
two mistakes are the ones that leak sessions and tracebacks in a real deployment.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent

# A .env in the working directory is a convenience for operators; real environment wins.
load_dotenv(Path.cwd() / ".env", override=False)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


CENTRAL_ENV = os.environ.get("CENTRAL_ENV", "embedded").strip().lower()
if CENTRAL_ENV not in {"embedded", "production", "test"}:
    raise ImproperlyConfigured(
        f"CENTRAL_ENV must be embedded, production or test, got {CENTRAL_ENV!r}"
    )
PRODUCTION = CENTRAL_ENV == "production"

DATA_DIR = Path(os.environ.get("CENTRAL_DATA_DIR", Path.cwd() / "data")).resolve()
# umask 077 for the whole process and the data dir 0700: see central.core.datafiles.
from central.core.datafiles import secure_data_dir  # noqa: E402 - needs nothing from Django

secure_data_dir(DATA_DIR)

DEBUG = env_bool("DEBUG", False)

# Embedded installs get a random key persisted in the data directory, so sessions survive a
# restart without anyone having to invent a secret. Such a key is a "demo" key: production
# must be given its own.
DEMO_SECRET_PREFIX = "demo-"
_secret_file = DATA_DIR / "secret_key"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and not PRODUCTION:
    if _secret_file.exists():
        SECRET_KEY = _secret_file.read_text().strip()
    else:
        SECRET_KEY = DEMO_SECRET_PREFIX + secrets.token_urlsafe(48)
        _secret_file.write_text(SECRET_KEY)
        _secret_file.chmod(0o600)

if PRODUCTION:
    if not SECRET_KEY or SECRET_KEY.startswith(DEMO_SECRET_PREFIX) or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "Production refuses to start: set SECRET_KEY to a random value of 32+ characters "
            "(not a demo key)."
        )
    if DEBUG:
        raise ImproperlyConfigured("Production refuses to start with DEBUG on.")

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

# --- CORS: API clients served from other origins (a mobile app's web view, a customer's
# own front end). None by default: a browser on another origin cannot read any answer.
# Credentials (cookies, the session) cross origins only when the operator says so; API
# clients on other origins normally send a JWT in Authorization, which needs no cookie.
CORS_ALLOWED_ORIGINS = [
    o.strip().rstrip("/") for o in os.environ.get("CENTRAL_CORS_ORIGINS", "").split(",") if o.strip()
]
CORS_ALLOW_CREDENTIALS = env_bool("CENTRAL_CORS_CREDENTIALS", False)
if CORS_ALLOW_CREDENTIALS and not CORS_ALLOWED_ORIGINS:
    raise ImproperlyConfigured("CENTRAL_CORS_CREDENTIALS needs CENTRAL_CORS_ORIGINS (explicit origins).")
# Only the API (and its token endpoints) answers cross-origin; pages, admin and /metrics never.
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = ("accept", "authorization", "content-type", "x-organization", "x-request-id")
CORS_EXPOSE_HEADERS = ("x-request-id", "retry-after")
CORS_PREFLIGHT_MAX_AGE = 600

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt",  # its pt_BR catalog (API auth errors in Portuguese)
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "central.core",
    "central.telephony",
    "central.dialer",
    "central.voice",
    "central.messaging",
    "central.documents",
    "central.scheduling",
    "central.assistant",
    "central.agents",
    "central.recordings",
    "central.dashboard",
]

MIDDLEWARE = [
    "central.core.middleware.RequestIdMiddleware",
    "central.core.middleware.MetricsMiddleware",
    "central.core.middleware.BodySizeLimitMiddleware",
    "central.core.middleware.DependencyDownMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "central.core.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before CommonMiddleware (django-cors-headers' rule) so preflights get their headers.
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "central.core.loginguard.LoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "central.urls"
ASGI_APPLICATION = "central.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "central.dashboard.context.organization",
                "central.core.csp.nonce",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "") or f"sqlite:///{DATA_DIR / 'central.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except Exception as exc:  # dj_database_url raises bare ValueErrors with terse text
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from exc
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # WAL lets the dashboard read while the dialer writes; the busy timeout turns
    # "database is locked" into a short wait instead of an error under light contention.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Under ASGI Django opens a connection per request unless a pool is used (Django
    # ticket #33497); psycopg's pool removes ~30 ms of connection setup per request.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("CENTRAL_DB_POOL_MIN", 1),
        "max_size": env_int("CENTRAL_DB_POOL_MAX", 10),
        "timeout": env_int("CENTRAL_DB_POOL_TIMEOUT", 10),
    }
    # The pool checks a connection before lending it (psycopg_pool check_connection, one
    # round trip): after a PostgreSQL restart every pooled connection is dead, and the
    # first request on each one answered 500 ("server closed the connection unexpectedly").
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache (rate limits), Celery --------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")


def redis_channel_host_options() -> dict:
    """Connection options of the Redis channel layer (one place: the settings and the test
    that holds them to a real Redis, tests/core/test_channel_layer_redis.py).

    After a Redis restart every pooled connection is dead: a command that meets one
    reconnects and runs once more instead of failing (the first WebSocket after the restart
    was refused). ``socket_timeout`` must outlast channels_redis's blocking pop
    (``BZPOPMIN`` for ``brpop_timeout`` = 5 s): redis-py 8 reads with a 5 s timeout by
    default, so an idle ``receive`` raised ``TimeoutError`` after 10 s (the pop, then its
    one retry), which closed every WebSocket that had nothing to say for 10 s and filled
    the PBX link's log with tracebacks.
    """
    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    return {"retry": AsyncRetry(NoBackoff(), 1), "retry_on_error": [RedisConnectionError],
            "socket_connect_timeout": 1, "socket_timeout": 15}


if PRODUCTION and not REDIS_URL:
    raise ImproperlyConfigured("Production needs REDIS_URL (channel layer, rate limits, jobs).")

if REDIS_URL:
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, **redis_channel_host_options()}]},
        }
    }
    CACHES = {
        "default": {
            # Django's RedisCache with an in-process fallback while Redis is unreachable
            # (central.core.cache): a Redis outage degrades the limits, never a 500. A dead
            # pooled connection is retried once (after a Redis restart the first rate-limit
            # count fell back to the local window).
            "BACKEND": "central.core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "central",
            "OPTIONS": {"retry": Retry(NoBackoff(), 1), "retry_on_error": [RedisConnectionError],
                        "socket_connect_timeout": 1, "socket_timeout": 2},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", REDIS_URL or None)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
# With Redis down, sending a task waited ~20 s (the result backend's 20 reconnect tries at
# 1 s) before failing: a request that sends one must fail fast and degrade instead.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"max_retries": 1, "interval_start": 0,
                                                            "interval_step": 0.5, "interval_max": 0.5}}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5,
                                    "interval_max": 0.5}
CELERY_TIMEZONE = "America/Sao_Paulo"

# --- Auth ---------------------------------------------------------------------------------
# The only backend: Django's, behind the per-account / per-client sign-in limit.
AUTHENTICATION_BACKENDS = ["central.core.loginguard.GuardedModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"
# Days an invitation to join an organization stays valid.
INVITATION_DAYS = env_int("CENTRAL_INVITATION_DAYS", 7)
SESSION_COOKIE_SECURE = PRODUCTION and env_bool("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- HTTPS behind a proxy (production defaults; `manage.py check --deploy` runs in the tests)
# The proxy (nginx) terminates TLS and must set X-Forwarded-Proto: trusting the header is
# what lets Django know a request was HTTPS. Health probes from the host itself stay on HTTP.
if env_bool("CENTRAL_PROXY_SSL_HEADER", PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("CENTRAL_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("CENTRAL_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CENTRAL_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("CENTRAL_HSTS_PRELOAD", False)  # the domain owner's decision
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- REST API -----------------------------------------------------------------------------
RATE_AUTH = os.environ.get("CENTRAL_RATE_AUTH", "5/min,100/hour")
# Failed sign-ins allowed per account and per client address on every login surface (API
# token, dashboard, admin: central/core/loginguard.py); past either, even the right
# password is refused until the window ends.
LOGIN_FAILURES_ACCOUNT = os.environ.get("CENTRAL_LOGIN_FAILURES_ACCOUNT", "5/min,20/hour")
LOGIN_FAILURES_CLIENT = os.environ.get("CENTRAL_LOGIN_FAILURES_CLIENT", "10/min,100/hour")
# Proxies whose X-Forwarded-For is believed (addresses or networks, comma separated), e.g.
# "127.0.0.1,10.0.0.0/24" for nginx on the host and a load balancer network. Empty: the
# socket's peer address is the client.
TRUSTED_PROXIES = [p.strip() for p in os.environ.get("CENTRAL_TRUSTED_PROXIES", "").split(",") if p.strip()]
RATE_API = os.environ.get("CENTRAL_RATE_API", "100/min,1000/hour")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "central.core.tokens.FamilyJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "central.core.pagination.Pagination",
    "DEFAULT_PARSER_CLASSES": [
        "central.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "central.core.filters.TenantFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["central.core.throttling.ApiUserThrottle"],
    "DEFAULT_SCHEMA_CLASS": "central.core.schema.CentralAutoSchema",
    "EXCEPTION_HANDLER": "central.core.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("CENTRAL_JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("CENTRAL_JWT_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    # a replayed rotated refresh token revokes its whole family (central/core/tokens.py)
    "TOKEN_OBTAIN_SERIALIZER": "central.core.tokens.FamilyTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "central.core.tokens.ReuseDetectingRefreshSerializer",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Central API",
    "DESCRIPTION": "Dialer, PBX link, voice attendant and operations API. "
    "Send the organization with the X-Organization header (id or slug).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the installed package, not a CDN (Content-Security-Policy: 'self').
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # One tag per capability (central.core.schema.CentralAutoSchema.get_tags), described here.
    "TAGS": [
        {"name": "account", "description": "Sign-in (JWT), the signed-in user and their default organization."},
        {"name": "organization", "description": "Members, invitations, the organization and its audit log."},
        {"name": "dialer", "description": "Outbound campaigns, contacts, attempts, do-not-call lists, imports."},
        {"name": "telephony", "description": "Asterisk servers, extensions, live calls, queue members, call records."},
        {"name": "voice", "description": "AI extensions, units and residents, visits, the voice process's live state."},
        {"name": "messaging", "description": "WhatsApp inbox: contacts, conversations, messages, labels."},
        {"name": "scheduling", "description": "Appointments, professionals, services, schedules, waiting list."},
        {"name": "documents", "description": "Site agents and the document index they report; PDF requests."},
    ],
    "ENUM_NAME_OVERRIDES": {"MessageDirectionEnum": "central.messaging.models.MESSAGE_DIRECTIONS",
                            "CallDirectionEnum": "central.telephony.models.Direction"},
}

# Bodies above this are refused with 413 before any parser touches them.
MAX_BODY_BYTES = env_int("CENTRAL_MAX_BODY_BYTES", 1_048_576)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_BODY_BYTES

# Contact / do-not-call imports (docs/dialer-data.md "Limits"): upload size, per-tenant
# quota of stored uploads, shape limits checked while parsing, the import worker's memory.
MAX_IMPORT_BYTES = env_int("CENTRAL_MAX_IMPORT_BYTES", 200 * 1024 * 1024)
IMPORT_QUOTA_BYTES = env_int("CENTRAL_IMPORT_QUOTA_BYTES", 1024 * 1024 * 1024)
IMPORT_KEEP_UPLOADS = env_bool("CENTRAL_IMPORT_KEEP_UPLOADS", False)
IMPORT_MAX_COLUMNS = env_int("CENTRAL_IMPORT_MAX_COLUMNS", 500)
IMPORT_MAX_LINE_CHARS = env_int("CENTRAL_IMPORT_MAX_LINE_CHARS", 1024 * 1024)
IMPORT_MAX_INFLATED_BYTES = env_int("CENTRAL_IMPORT_MAX_INFLATED_BYTES", 2 * 1024 * 1024 * 1024)
IMPORT_MAX_ZIP_RATIO = env_int("CENTRAL_IMPORT_MAX_ZIP_RATIO", 100)
IMPORT_MEMORY_MB = env_int("CENTRAL_IMPORT_MEMORY_MB", 1024)
METRICS_TOKEN = os.environ.get("CENTRAL_METRICS_TOKEN", "")
# /metrics carries per-campaign labels: closed unless a token is set or it is opened on purpose.
METRICS_OPEN = env_bool("CENTRAL_METRICS_OPEN", False)

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", _("Português (Brasil)")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
USE_TZ = True

# --- Static -------------------------------------------------------------------------------
STATIC_URL = "static/"
# Production: a directory nginx can read (the data dir is 0700), filled by
# `central manage collectstatic`; world-readable modes on purpose, nothing there is secret.
STATIC_ROOT = Path(os.environ.get("CENTRAL_STATIC_ROOT", "") or DATA_DIR / "static").resolve()
with contextlib.suppress(OSError):  # another user's directory: collectstatic says so
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
        "OPTIONS": {"file_permissions_mode": 0o644, "directory_permissions_mode": 0o755},
    },
}
# Cached documents of the site agents (central/documents/storage.py): a private folder in
# the data dir, or S3-compatible object storage with CENTRAL_DOCUMENTS_STORAGE=s3.
from central.documents.storage import StorageConfigError, storage_config  # noqa: E402

try:
    STORAGES["documents"] = storage_config(os.environ, DATA_DIR)
except StorageConfigError as exc:
    raise ImproperlyConfigured(str(exc)) from exc
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Logging ------------------------------------------------------------------------------
LOG_LEVEL = os.environ.get("CENTRAL_LOG_LEVEL", "INFO").upper()
LOG_FILE = os.environ.get("CENTRAL_LOG_FILE", "")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "central.core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "central.core.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        },
        # The live log console and `central logs -f` (central.core.logstream).
        "live": {"class": "central.core.logstream.LiveLogHandler", "filters": ["request_id"]},
        **(
            {
                "file": {
                    "class": "logging.handlers.RotatingFileHandler",
                    "filename": LOG_FILE,
                    "maxBytes": env_int("CENTRAL_LOG_MAX_BYTES", 10_000_000),
                    "backupCount": env_int("CENTRAL_LOG_BACKUPS", 5),
                    "formatter": "json",
                    "filters": ["request_id"],
                }
            }
            if LOG_FILE
            else {}
        ),
    },
    "root": {"handlers": ["console", "live", *(["file"] if LOG_FILE else [])], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "uvicorn.access": {"level": "WARNING"},
    },
}

# --- Central -------------------------------------------------------------------------------
# Asterisk servers configured from the environment (the database can hold more):
# CENTRAL_AMI_URL=ami://user@host:5038 with the secret in CENTRAL_AMI_SECRET.
AMI_URL = os.environ.get("CENTRAL_AMI_URL", "")
AMI_SECRET = os.environ.get("CENTRAL_AMI_SECRET", "")

# Networks tenants may point their PBX / providers at although they are not public
# (central.core.outbound); the database and Redis addresses stay refused regardless.
try:
    from central.core.outbound import parse_allow_list

    OUTBOUND_ALLOW = parse_allow_list(os.environ.get("CENTRAL_OUTBOUND_ALLOW", ""))
except ValueError as exc:
    raise ImproperlyConfigured(f"CENTRAL_OUTBOUND_ALLOW: {exc}") from exc

# --- Backups, maintenance, live logs (docs/operations.md) -----------------------------------
# Daily backup at BACKUP_AT (installation time zone) into BACKUP_DIR, keeping the newest of
# each of the last KEEP_DAILY days and of the last KEEP_WEEKLY ISO weeks; a weekly restore
# test at RESTORE_TEST_AT; optional copy to S3-compatible storage (credentials: the usual
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment of boto3).
BACKUP_DIR = Path(os.environ.get("CENTRAL_BACKUP_DIR", "") or DATA_DIR / "backups")
BACKUP_AT = os.environ.get("CENTRAL_BACKUP_AT", "02:30")
BACKUP_KEEP_DAILY = env_int("CENTRAL_BACKUP_KEEP_DAILY", 7)
BACKUP_KEEP_WEEKLY = env_int("CENTRAL_BACKUP_KEEP_WEEKLY", 4)
RESTORE_TEST_AT = os.environ.get("CENTRAL_RESTORE_TEST_AT", "04:00")
BACKUP_S3_BUCKET = os.environ.get("CENTRAL_BACKUP_S3_BUCKET", "")
BACKUP_S3_ENDPOINT = os.environ.get("CENTRAL_BACKUP_S3_ENDPOINT", "")
BACKUP_S3_PREFIX = os.environ.get("CENTRAL_BACKUP_S3_PREFIX", "central/")
BACKUP_S3_SSE = env_bool("CENTRAL_BACKUP_S3_SSE", False)
# Retention defaults (days; 0 = keep) for organizations without their own policy, and the
# daily maintenance time.
RETENTION_ATTEMPTS_DAYS = env_int("CENTRAL_RETENTION_ATTEMPTS_DAYS", 365)
RETENTION_CALL_RECORDS_DAYS = env_int("CENTRAL_RETENTION_CALL_RECORDS_DAYS", 365)
RETENTION_CONVERSATIONS_DAYS = env_int("CENTRAL_RETENTION_CONVERSATIONS_DAYS", 365)
RETENTION_AUDIT_DAYS = env_int("CENTRAL_RETENTION_AUDIT_DAYS", 730)
RETENTION_RECORDINGS_DAYS = env_int("CENTRAL_RETENTION_RECORDINGS_DAYS", 90)
MAINTENANCE_AT = os.environ.get("CENTRAL_MAINTENANCE_AT", "03:30")
# Live log console: lines kept per process for a page that opens (and per socket backlog).
LOG_CONSOLE_BUFFER = env_int("CENTRAL_LOG_CONSOLE_BUFFER", 2000)

# --- Documents (site agents, central/documents) ---------------------------------------------
# Days a verified copy stays cached; hours a request waits for an offline agent; largest
# document accepted; minutes an enrollment code stays valid; minutes offline before the
# monitor's alert badge (and the offline-longest gauge's alert rule) fire.
DOCUMENTS_CACHE_DAYS = env_int("CENTRAL_DOCUMENTS_CACHE_DAYS", 15)
DOCUMENTS_REQUEST_WAIT_HOURS = env_int("CENTRAL_DOCUMENTS_REQUEST_WAIT_HOURS", 24)
DOCUMENTS_MAX_FILE_BYTES = env_int("CENTRAL_DOCUMENTS_MAX_FILE_BYTES", 512 * 1024 * 1024)
DOCUMENTS_ENROLL_MINUTES = env_int("CENTRAL_DOCUMENTS_ENROLL_MINUTES", 60)
DOCUMENTS_OFFLINE_ALERT_MINUTES = env_int("CENTRAL_DOCUMENTS_OFFLINE_ALERT_MINUTES", 30)

# Call recordings (docs/recordings.md): the spool MixMonitor writes (the Asterisk host's
# monitor directory, or a mount of it) and Central's store of indexed files.
RECORDINGS_SPOOL = Path(os.environ.get("CENTRAL_RECORDINGS_SPOOL", "") or DATA_DIR / "recordings-spool").resolve()
RECORDINGS_DIR = Path(os.environ.get("CENTRAL_RECORDINGS_DIR", "") or DATA_DIR / "recordings").resolve()
RECORDINGS_MAX_BYTES = env_int("CENTRAL_RECORDINGS_MAX_BYTES", 512 * 1024 * 1024)
RECORDINGS_SETTLE_SECONDS = env_int("CENTRAL_RECORDINGS_SETTLE_SECONDS", 5)
RECORDINGS_ORPHAN_MINUTES = env_int("CENTRAL_RECORDINGS_ORPHAN_MINUTES", 60)
