"""Settings. Every environment variable the project reads is read here, and
listed in the README's Configuration section."""

from __future__ import annotations

import ipaddress
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config import embedded
from config.local_secrets import persistent_secret
from config.redis_connections import RedisTopology

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


# --------------------------------------------------------------------------- core

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off. "
            "(The run command generates one under var/ for you.)"
        )
    SECRET_KEY = "django-insecure-debug-only-key"  # DEBUG only: never used with DEBUG off

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Address and port of the run command's web server (config/launcher.py).
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = env_int("PORT", 8000)

VAR_DIR = embedded.var_dir()

INSTALLED_APPS = [
    # django.contrib.admin, with a default site that audits every add, change,
    # delete and action (audit/admin_site.py).
    "audit.apps.AuditedAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "psqlextra",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # The bottom layer: shared parts, and the only code on the channel layer.
    "core",
    "realtime",
    "accounts",
    "orgs",
    "chatroom",
    "jobs",
    "audit",
    # Above every app: statistics, metrics and the staff dashboard read them all.
    "ops",
]

MIDDLEWARE = [
    # Outermost: every answer is counted for /metrics and the per-minute
    # samples (ops/middleware.py), the 503s of the faults middleware too.
    "ops.middleware.HttpMetricsMiddleware",
    # First: a 503 (never a 500) when the database or Redis is down, and an
    # X-Unavailable header naming what a request found down (config/faults.py).
    "config.middleware.FaultsMiddleware",
    # NUL, non-UTF-8 paths and query strings: 400 before anything reads them.
    "config.request_validation.RequestValidationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Request id (X-Request-ID), client IP and user agent for audit entries.
    "audit.context.AuditContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language cookie, then Accept-Language; a signed-in user's profile
    # language wins after authentication (accounts/languages.py).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.languages.ProfileLanguageMiddleware",
    # Runs each request for its user: one that writes pins the user's reads
    # to the primary for REPLICA_PIN_SECONDS (core/replicas.py).
    "core.replicas.PinMiddleware",
    "accounts.middleware.WebSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # The nav bar's unread notification badge.
                "accounts.context_processors.notifications",
                # The notice a page shows while a part it uses is down.
                "config.middleware.parts_down",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Log in with a username or an email address; inactive and banned users never pass.
AUTHENTICATION_BACKENDS = ["accounts.backends.LoginBackend"]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",  # Argon2id
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
# The product's languages (a profile's ``language`` is one of these codes).
# Translations: locale/<lang>/LC_MESSAGES/*.po, compiled by
# ``manage.py compilemessages`` (Babel; no GNU gettext needed), which the run
# and test commands do.
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
# Serve straight from the finders: no collectstatic step to forget.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media").resolve()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --------------------------------------------------------------------------- database

DATABASE_URL = os.environ.get("DATABASE_URL") or embedded.ensure_postgres()
# Each process borrows connections from a pool of its own (psycopg_pool),
# of at most DB_POOL_MAX_SIZE, and gives them back when a request, a socket
# frame or a task is done. Without it, a connection belongs to a thread, and
# under ASGI every request runs in a thread of its own: with connections
# kept DB_CONN_MAX_AGE seconds each finished request left one idle until
# garbage collection (bench/db_connections.py). A request that waits longer
# than DB_POOL_TIMEOUT for a free connection answers 503 service_unavailable.
# DB_POOL_MAX_SIZE=0 turns the pool off (a connection per thread, kept
# DB_CONN_MAX_AGE seconds).
DB_POOL_MIN_SIZE = env_int("DB_POOL_MIN_SIZE", 1)
DB_POOL_MAX_SIZE = env_int("DB_POOL_MAX_SIZE", 10)
DB_POOL_TIMEOUT = env_int("DB_POOL_TIMEOUT", 5)
DB_CONN_MAX_AGE = env_int("DB_CONN_MAX_AGE", 0)
if DB_POOL_MAX_SIZE and DB_CONN_MAX_AGE:
    raise ImproperlyConfigured("DB_CONN_MAX_AGE applies only without the pool (DB_POOL_MAX_SIZE=0)")
if DB_POOL_MAX_SIZE and not 0 <= DB_POOL_MIN_SIZE <= DB_POOL_MAX_SIZE:
    raise ImproperlyConfigured("DB_POOL_MIN_SIZE must be between 0 and DB_POOL_MAX_SIZE")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)}
# django-postgres-extra's backend (partitioned tables) wraps Django's PostgreSQL backend.
DATABASES["default"]["ENGINE"] = "psqlextra.backend"
DATABASES["default"].setdefault("OPTIONS", {}).update(
    connect_timeout=5,
    # Names this deployment's connections in pg_stat_activity (tests and
    # benchmarks give each process its own name to count its backends).
    application_name=os.environ.get("DB_APPLICATION_NAME", "teamhub"),
)
if DB_POOL_MAX_SIZE:
    # With CONN_HEALTH_CHECKS the pool checks a connection before lending
    # it, so one whose backend was terminated is replaced, not lent; the
    # first dead one makes it check all its idle ones (config/dbpool.py).
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": DB_POOL_MIN_SIZE, "max_size": DB_POOL_MAX_SIZE, "timeout": DB_POOL_TIMEOUT,
        # psycopg_pool retries a failed connect with doubling delays (1, 2,
        # 4, ... s) until it gives up; the next request then starts afresh.
        # Giving up soon keeps the wait after the database comes back short.
        "reconnect_timeout": max(DB_POOL_TIMEOUT, 3),
        "name": "default",
    }
# The embedded server (pgserver) has no hstore; create extensions in migrations instead.
POSTGRES_EXTRA_AUTO_EXTENSION_SET_UP = False

# Behind PgBouncer in transaction pooling (README, "PgBouncer"): a server
# connection serves this client only for one transaction, so nothing may
# outlive one. No server-side cursors outside a transaction (QuerySet.iterator
# would declare them WITH HOLD), and no prepared statements (psycopg prepares
# a statement it runs often, on a server connection the next transaction may
# not get). Advisory locks are transaction-scoped everywhere already.
DB_PGBOUNCER = env_bool("DB_PGBOUNCER", False)
if DB_PGBOUNCER:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None


# Read replicas (core/replicas.py, core/replica_health.py): hot standbys
# streaming from the primary, one alias each (replica1, replica2, ...).
# Lag-tolerant reads (history, search, listings) go to a healthy one; every
# other read, every write and every migration to the primary. Each replica
# gets a connection pool of its own, as big as the primary's.
DATABASE_REPLICA_URLS = env_list("DATABASE_REPLICA_URLS")
# After a user writes, their reads go to the primary for this long.
REPLICA_PIN_SECONDS = env_int("REPLICA_PIN_SECONDS", 5)
# A replica further behind than this (or down) is skipped until it recovers.
REPLICA_MAX_LAG_SECONDS = env_float("REPLICA_MAX_LAG_SECONDS", 10)
# How often each process checks its replicas' health and lag.
REPLICA_CHECK_SECONDS = env_float("REPLICA_CHECK_SECONDS", 1)
if REPLICA_PIN_SECONDS < 1 or REPLICA_MAX_LAG_SECONDS <= 0 or REPLICA_CHECK_SECONDS <= 0:
    raise ImproperlyConfigured("REPLICA_PIN_SECONDS must be at least 1, REPLICA_MAX_LAG_SECONDS and "
                               "REPLICA_CHECK_SECONDS above 0")
REPLICA_ALIASES: list[str] = []
for _n, _url in enumerate(DATABASE_REPLICA_URLS, start=1):
    _alias = f"replica{_n}"
    _replica = dj_database_url.parse(_url, conn_max_age=DB_CONN_MAX_AGE, conn_health_checks=True)
    _replica["ENGINE"] = DATABASES["default"]["ENGINE"]
    _replica.setdefault("OPTIONS", {}).update(
        {k: v for k, v in DATABASES["default"]["OPTIONS"].items() if k != "pool"})
    if DB_POOL_MAX_SIZE:
        # A replica that stopped since its last check costs a reader at most
        # this wait before the read goes to the primary (core.replicas).
        _replica["OPTIONS"]["pool"] = {**DATABASES["default"]["OPTIONS"]["pool"], "name": _alias,
                                       "timeout": min(DB_POOL_TIMEOUT, 2)}
    _replica["DISABLE_SERVER_SIDE_CURSORS"] = DB_PGBOUNCER
    # Tests: the same database as default, never one of its own.
    _replica["TEST"] = {"MIRROR": "default"}
    DATABASES[_alias] = _replica
    REPLICA_ALIASES.append(_alias)
DATABASE_ROUTERS = ["core.replicas.ReplicaRouter"]

# --------------------------------------------------------------------------- redis

# Keys are namespaced by prefix rather than by database number, so a Redis with
# a single database (or a unix-socket URL) works the same.
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "teamhub")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Parallel test workers share one Redis; each gets its own key space.
    REDIS_KEY_PREFIX += "-" + os.environ["PYTEST_XDIST_WORKER"]
# Fail fast when Redis is down: readiness reports it instead of hanging.
REDIS_SOCKET_TIMEOUT = 2.0
# Where Redis is: REDIS_URL (else the embedded one), or, with REDIS_SENTINELS
# (comma-separated host:port) and REDIS_SENTINEL_MASTER, the master those
# sentinels name, with REDIS_PASSWORD for the Redis servers and
# REDIS_SENTINEL_PASSWORD for the sentinels. Every client (cache, channel
# layer, Celery, the apps' direct uses) is built by config/redis_connections.py.
REDIS = RedisTopology.from_env(os.environ, url_default=embedded.ensure_redis, prefix=REDIS_KEY_PREFIX,
                               socket_timeout=REDIS_SOCKET_TIMEOUT)
REDIS_URL = REDIS.url  # empty with Sentinel
REDIS_SENTINELS = REDIS.sentinels
REDIS_SENTINEL_MASTER = REDIS.master

CACHES = {"default": REDIS.cache()}

# Redis pub/sub, not channels-redis's list-based layer: a group send is one
# PUBLISH that each server process fans out to its own sockets in memory. The
# list-based layer stores a copy per socket and receives each with four Redis
# round trips under one lock per process, which bench/ws_fanout.py measured
# at about 340 deliveries a second with 1,000 sockets. Pub/sub delivers at most
# once; realtime.delivery notices a missed message.new by its predecessor's
# cursor and refetches it. realtime.layer bounds each socket's queue and sends
# a socket that overflowed it, or whose process lost its Redis subscription,
# to the database at once (realtime.behind), and counts both.
CHANNEL_LAYER_QUEUE_MAX = env_int("CHANNEL_LAYER_QUEUE_MAX", 1000)
if CHANNEL_LAYER_QUEUE_MAX < 1:
    raise ImproperlyConfigured("CHANNEL_LAYER_QUEUE_MAX must be at least 1")
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "realtime.layer.BoundedPubSubChannelLayer",
        "CONFIG": {
            "queue_max": CHANNEL_LAYER_QUEUE_MAX,
            # redis-py's own limits are too tight for a busy server process: a
            # 5 s socket read timeout and a pool of 100 connections per loop.
            "hosts": [REDIS.channel_layer_host(
                socket_timeout=30, socket_connect_timeout=REDIS_SOCKET_TIMEOUT,
                max_connections=env_int("CHANNEL_LAYER_MAX_CONNECTIONS", 2000))],
            "prefix": f"{REDIS_KEY_PREFIX}:asgi",
        },
    }
}

_celery_redis = REDIS.celery()
CELERY_BROKER_URL = _celery_redis["broker_url"]
CELERY_RESULT_BACKEND = _celery_redis["result_backend"]
CELERY_BROKER_TRANSPORT_OPTIONS = _celery_redis["broker_transport_options"]
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = _celery_redis["result_backend_transport_options"]
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_SOCKET_TIMEOUT
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Periodic tasks; later features add theirs here.
CELERY_BEAT_SCHEDULE: dict = {}

# --------------------------------------------------------------------------- API

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.DeviceTokenAuthentication",  # Authorization: Token <token>
        "accounts.authentication.ApiKeyAuthentication",  # Authorization: Api-Key <key>
        "rest_framework.authentication.SessionAuthentication",  # the pages' own calls (CSRF)
    ],
    # HasRequiredScopes: an API key passes only views that declare the scope it
    # holds (view.required_scopes); views that override permission_classes keep it.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.HasRequiredScopes",
    ],
    # Sliding windows in Redis: per API key, per user, per IP when anonymous.
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.SlidingWindowThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Teamhub API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from the drf-spectacular-sidecar package: pages load nothing from the internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The contract's error responses, documented once for every operation.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "config.openapi.document_errors"],
    # One name per choice set that several fields share (else a hash-suffixed name).
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.Job.Status",
        "JobTypeEnum": "jobs.models.Job.Type",
        "RemoteTypeEnum": "jobs.models.Remote.Type",
        "RemotePermissionEnum": "jobs.models.PERMISSIONS",
        "ScheduleRuleTypeEnum": "jobs.models.ScheduleRule.RuleType",
        "RoomRoleEnum": "chatroom.models.RoomMember.Role",
        "PresenceEnum": ["online", "away", "offline"],
    },
}

# Largest request body Django will read into memory (bytes).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)

# --------------------------------------------------------------------------- security

# Browser sessions live in PostgreSQL, not Redis (the cache): pages keep
# working, logged in, while Redis is down (README, "Faults").
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Behind a TLS-terminating proxy, set SECURE_PROXY_SSL=1 so Django trusts
# X-Forwarded-Proto and marks cookies secure.
if env_bool("SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "pgserver": {"level": "WARNING"}},
}

# --------------------------------------------------------------------------- accounts

# Sign-up on the page and POST /api/v1/auth/register (403 registration_closed when off).
REGISTRATION_OPEN = env_bool("REGISTRATION_OPEN", True)
# Login lockout (Redis): this many failures for one login, or from one IP, within
# LOGIN_FAILURE_WINDOW_SECONDS lock that login or IP out for LOGIN_LOCKOUT_SECONDS.
LOGIN_FAILURE_LIMIT_PER_LOGIN = env_int("LOGIN_FAILURE_LIMIT_PER_LOGIN", 5)
LOGIN_FAILURE_LIMIT_PER_IP = env_int("LOGIN_FAILURE_LIMIT_PER_IP", 20)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 900)
# API sliding-window limits, requests per minute. A key's own limit is set per key
# (default API_RATE_LIMIT_PER_MINUTE).
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 200)
API_ANON_RATE_LIMIT_PER_MINUTE = env_int("API_ANON_RATE_LIMIT_PER_MINUTE", 60)
# Device session tokens: expiry slides forward by AUTH_TOKEN_TTL_HOURS on use,
# never past AUTH_TOKEN_MAX_LIFETIME_DAYS after login.
AUTH_TOKEN_TTL_HOURS = env_int("AUTH_TOKEN_TTL_HOURS", 14 * 24)
AUTH_TOKEN_MAX_LIFETIME_DAYS = env_int("AUTH_TOKEN_MAX_LIFETIME_DAYS", 90)
KNOX_TOKEN_MODEL = "accounts.DeviceSession"
# knox's own migrations would create its default token table even though the
# model is swapped for ours; without them nothing of knox's is created.
MIGRATION_MODULES = {"knox": None}
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=AUTH_TOKEN_TTL_HOURS),
    "AUTO_REFRESH": True,
    "AUTO_REFRESH_MAX_TTL": timedelta(days=AUTH_TOKEN_MAX_LIFETIME_DAYS),
    "MIN_REFRESH_INTERVAL": 60,
    "AUTH_HEADER_PREFIX": "Token",
}
# last_active_at and a session's last_used_at are written at most once per interval.
LAST_ACTIVE_INTERVAL_SECONDS = env_int("LAST_ACTIVE_INTERVAL_SECONDS", 300)
# A socket without a session cookie must send {"type": "auth"} within this time.
WS_AUTH_TIMEOUT_SECONDS = env_int("WS_AUTH_TIMEOUT_SECONDS", 5)
# Threads per web process for socket frames' database and Redis work; each
# borrows a pooled connection while it runs, so by default as many as the pool.
WS_DB_THREADS = env_int("WS_DB_THREADS", DB_POOL_MAX_SIZE or 10)
if WS_DB_THREADS < 1:
    raise ImproperlyConfigured("WS_DB_THREADS must be at least 1")
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT_SECONDS", 3600)
# Reset mails an hour, per address and per client IP (against mail bombing).
PASSWORD_RESET_MAILS_PER_EMAIL = env_int("PASSWORD_RESET_MAILS_PER_EMAIL", 3)
PASSWORD_RESET_MAILS_PER_IP = env_int("PASSWORD_RESET_MAILS_PER_IP", 10)
CELERY_BEAT_SCHEDULE["accounts-purge-expired-sessions"] = {"task": "accounts.purge_expired_sessions", "schedule": 3600.0}
CELERY_BEAT_SCHEDULE["accounts-purge-expired-notifications"] = {
    "task": "accounts.purge_expired_notifications", "schedule": 3600.0,
}

# Email: the console by default; SMTP when EMAIL_HOST is set.
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Teamhub <noreply@localhost>")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587)
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# The site's own address, for links in mails (no request to take it from).
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")

# Missed-message mail (issue 18): what is still unread this long after it came,
# while the user has no socket online, is mailed (batched, one mail per user,
# at most MISSED_MESSAGE_EMAIL_MAX_ITEMS messages); the beat scan runs every
# MISSED_MESSAGE_EMAIL_SCAN_SECONDS and also sends again what SMTP refused.
MISSED_MESSAGE_EMAIL_DELAY_SECONDS = env_int("MISSED_MESSAGE_EMAIL_DELAY_SECONDS", 120)
MISSED_MESSAGE_EMAIL_SCAN_SECONDS = env_int("MISSED_MESSAGE_EMAIL_SCAN_SECONDS", 30)
MISSED_MESSAGE_EMAIL_MAX_ITEMS = env_int("MISSED_MESSAGE_EMAIL_MAX_ITEMS", 20)
# Celery retries of one send (backing off up to an hour); past them the beat
# scan keeps trying, so a mail is delayed by a failing SMTP server, never lost.
MISSED_MESSAGE_EMAIL_MAX_RETRIES = env_int("MISSED_MESSAGE_EMAIL_MAX_RETRIES", 10)
CELERY_BEAT_SCHEDULE["chatroom-missed-message-mail"] = {
    "task": "chatroom.scan_missed_messages", "schedule": float(MISSED_MESSAGE_EMAIL_SCAN_SECONDS),
}
# @all and @here need room admin in rooms of more members than this.
GROUP_MENTION_FREE_MEMBERS = env_int("GROUP_MENTION_FREE_MEMBERS", 10)

# --------------------------------------------------------------------------- chat

# Longest message text, in characters.
CHAT_MESSAGE_MAX_LENGTH = env_int("CHAT_MESSAGE_MAX_LENGTH", 4000)
# Largest attachment upload, in bytes (larger ones get 413 too_large).
CHAT_UPLOAD_MAX_BYTES = env_int("CHAT_UPLOAD_MAX_BYTES", 10 * 1024 * 1024)
# Messages one user may post (socket and API together) per window of seconds.
CHAT_MESSAGE_RATE = env_int("CHAT_MESSAGE_RATE", 30)
CHAT_MESSAGE_RATE_WINDOW = env_int("CHAT_MESSAGE_RATE_WINDOW", 10)
# Who may open a direct message with whom: "shared" (people who share an
# organization or a room) or "anyone" (every active user).
DM_POLICY = os.environ.get("DM_POLICY", "shared").strip().lower() or "shared"
if DM_POLICY not in ("shared", "anyone"):
    raise ImproperlyConfigured(f"DM_POLICY must be shared or anyone, got {DM_POLICY!r}")
# The most people in a group DM (the caller included); a group DM has at least 3.
GROUP_DM_MAX_MEMBERS = env_int("GROUP_DM_MAX_MEMBERS", 9)
if GROUP_DM_MAX_MEMBERS < 3:
    raise ImproperlyConfigured("GROUP_DM_MAX_MEMBERS must be at least 3")
# A room's unread count stops here (the badge reads "100+"): counting costs a
# row per unread message (chatroom.unread).
UNREAD_COUNT_CAP = env_int("UNREAD_COUNT_CAP", 100)
if UNREAD_COUNT_CAP < 1:
    raise ImproperlyConfigured("UNREAD_COUNT_CAP must be at least 1")
# Read receipts (chatroom.receipts): DMs, group DMs and rooms of at most this many members.
RECEIPTS_MAX_MEMBERS = env_int("RECEIPTS_MAX_MEMBERS", 50)
# Send later: beat scans for due scheduled messages this often (seconds); a
# message goes out within about this long of its send_at, after a restart too.
SCHEDULED_MESSAGES_SCAN_SECONDS = env_int("SCHEDULED_MESSAGES_SCAN_SECONDS", 1)
if not 1 <= SCHEDULED_MESSAGES_SCAN_SECONDS <= 5:
    raise ImproperlyConfigured("SCHEDULED_MESSAGES_SCAN_SECONDS must be between 1 and 5")
# A scan still waiting past the next one is dropped (the next one does its work).
CELERY_BEAT_SCHEDULE["chatroom-scheduled-messages-due"] = {
    "task": "chatroom.tasks.scheduled_messages_due", "schedule": float(SCHEDULED_MESSAGES_SCAN_SECONDS),
    "options": {"expires": float(SCHEDULED_MESSAGES_SCAN_SECONDS)}}

# --------------------------------------------------------------------------- live socket

# Frames one socket may send per second (a burst of twice that is allowed).
WS_FRAME_RATE = env_int("WS_FRAME_RATE", 20)
# Refused frames (rate limits) in a row before the socket is closed with 4429.
WS_ABUSE_STRIKES = env_int("WS_ABUSE_STRIKES", 5)
# Presence: a connection counts as gone when it missed heartbeats for this
# long, heartbeats every PRESENCE_HEARTBEAT_SECONDS, and stale connections
# are swept (their users shown offline) every PRESENCE_SWEEP_SECONDS by each
# server process and by beat. A killed server's sockets are offline 30-55 s
# later. (Seed 000 says 5 minutes; a gone socket must be gone within a minute.)
PRESENCE_TTL_SECONDS = env_int("PRESENCE_TTL_SECONDS", 45)
PRESENCE_HEARTBEAT_SECONDS = env_int("PRESENCE_HEARTBEAT_SECONDS", 15)
PRESENCE_SWEEP_SECONDS = env_int("PRESENCE_SWEEP_SECONDS", 10)
# A typing indicator lapses this long after its last refresh.
TYPING_TTL_SECONDS = env_int("TYPING_TTL_SECONDS", 6)
# A socket whose frames wait longer than this is told to resume instead.
WS_MAX_LAG_SECONDS = env_int("WS_MAX_LAG_SECONDS", 30)
CELERY_BEAT_SCHEDULE["realtime-presence-sweep"] = {"task": "realtime.presence_sweep",
                                                   "schedule": float(PRESENCE_SWEEP_SECONDS or 10)}

# --------------------------------------------------------------------------- audit and partitions


def _audit_hmac_key() -> str:
    """AUDIT_HMAC_KEY signs the audit chain; it is separate from SECRET_KEY so
    rotating one does not touch the other. Unset, a random key is generated
    once under VAR_DIR (mode 0600), as the run command does for SECRET_KEY;
    set it explicitly when several hosts write audit entries."""
    key = os.environ.get("AUDIT_HMAC_KEY", "").strip()
    if key:
        if len(key) < 32:
            raise ImproperlyConfigured("AUDIT_HMAC_KEY must be at least 32 characters")
        return key
    return persistent_secret("audit_hmac_key", lambda: secrets.token_urlsafe(48))


AUDIT_HMAC_KEY = _audit_hmac_key()
AUDIT_HMAC_KEY_FROM_ENV = bool(os.environ.get("AUDIT_HMAC_KEY", "").strip())
if AUDIT_HMAC_KEY == SECRET_KEY:
    raise ImproperlyConfigured("AUDIT_HMAC_KEY must differ from SECRET_KEY")
# Reverse proxies (IPs or CIDRs) whose X-Forwarded-For is believed for the client IP.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES")
# The signed chain-head anchors and retention records (append-only JSON
# lines), one file per database, outside the database (audit/anchors.py).
AUDIT_DIGEST_DIR = Path(os.environ.get("AUDIT_DIGEST_DIR") or VAR_DIR / "audit-digests").resolve()
# How often the chain head is verified and anchored while entries are written:
# the window in which a database superuser could still drop or reorder the
# newest entries unseen (audit/chain.py).
AUDIT_ANCHOR_INTERVAL_SECONDS = env_int("AUDIT_ANCHOR_INTERVAL_SECONDS", 60)
if not 1 <= AUDIT_ANCHOR_INTERVAL_SECONDS <= 60:
    raise ImproperlyConfigured("AUDIT_ANCHOR_INTERVAL_SECONDS must be between 1 and 60")
# The hourly check verifies this many newest entries (and the anchors among them).
AUDIT_VERIFY_RECENT_LIMIT = env_int("AUDIT_VERIFY_RECENT_LIMIT", 200_000)

# Partition maintenance (core/partitions.py): every range-partitioned table
# (monthly on created_at) registers itself from its app's AppConfig.ready(),
# naming the setting that holds its retention in whole months (None keeps
# forever). Audit partitions:
AUDIT_RETENTION_MONTHS = env_int("AUDIT_RETENTION_MONTHS", 6)
# Chat history: kept forever unless CHAT_RETENTION_MONTHS is set.
CHAT_RETENTION_MONTHS = env_int("CHAT_RETENTION_MONTHS", 0) or None
# Monthly partitions kept created ahead of the current month, for every table.
PARTITION_MONTHS_AHEAD = env_int("PARTITION_MONTHS_AHEAD", 3)
# Where retention writes each dropped partition (gzip JSON lines + .sha256).
PARTITION_ARCHIVE_DIR = Path(os.environ.get("PARTITION_ARCHIVE_DIR") or VAR_DIR / "partition-archive").resolve()

from celery.schedules import crontab  # noqa: E402

CELERY_BEAT_SCHEDULE.update({
    "partitions-maintain": {"task": "core.tasks.partitions_maintain", "schedule": crontab(minute=10, hour=2)},
    # Runs that wait past the next one are dropped: the next anchors it all.
    "audit-anchor": {"task": "audit.tasks.audit_anchor", "schedule": float(AUDIT_ANCHOR_INTERVAL_SECONDS),
                     "options": {"expires": float(AUDIT_ANCHOR_INTERVAL_SECONDS)}},
    "audit-verify-recent": {"task": "audit.tasks.audit_verify_recent", "schedule": crontab(minute=17)},
})

# --------------------------------------------------------------------------- orgs

# Hourly: mark lapsed memberships and proxies inactive. Housekeeping only; the
# permission check stops granting at the moment of expiry either way.
CELERY_BEAT_SCHEDULE["orgs-tidy-expired"] = {"task": "orgs.tidy_expired", "schedule": 3600.0}

# --------------------------------------------------------------------------- jobs

# Directories a "local" remote's root may lie in (comma-separated absolute paths).
RCLONE_LOCAL_ROOTS = [str(Path(p).resolve()) for p in env_list("RCLONE_LOCAL_ROOTS", str(VAR_DIR / "rclone-local"))]


def _remote_secrets_keys() -> list[str]:
    """REMOTE_SECRETS_KEY: Fernet key(s) encrypting remotes' secret options at
    rest, comma-separated, newest first (older ones still decrypt: rotation).
    Unset, a key is generated once under VAR_DIR (mode 0600), like
    AUDIT_HMAC_KEY; set it explicitly in production and back it up: without
    it the stored secrets cannot be read."""
    from cryptography.fernet import Fernet

    keys = env_list("REMOTE_SECRETS_KEY")
    for key in keys:
        try:
            Fernet(key.encode())
        except ValueError:
            raise ImproperlyConfigured(
                "REMOTE_SECRETS_KEY must be Fernet keys (32 url-safe base64 bytes each, comma-separated); "
                'make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
            ) from None
    if keys:
        return keys

    return [persistent_secret("remote_secrets_key", lambda: Fernet.generate_key().decode())]


REMOTE_SECRETS_KEYS = _remote_secrets_keys()
# At most this many jobs run at once against one remote (Redis slots lock:remote:<name>:<n>).
JOBS_PER_REMOTE_CONCURRENCY = env_int("JOBS_PER_REMOTE_CONCURRENCY", 2)
# Cancel: SIGTERM, then SIGKILL after this many milliseconds.
JOBS_CANCEL_GRACE_MS = env_int("JOBS_CANCEL_GRACE_MS", 1500)
# Temporary failures retry after JOBS_RETRY_BASE_SECONDS * 2**retry_count.
JOBS_RETRY_BASE_SECONDS = env_int("JOBS_RETRY_BASE_SECONDS", 10)
JOBS_DEFAULT_MAX_RETRIES = env_int("JOBS_DEFAULT_MAX_RETRIES", 3)
# A job's runner proves it is alive by its heartbeat (heartbeat_at, on the
# database's clock), written at least every JOBS_HEARTBEAT_SECONDS. A runner
# that cannot write it for JOBS_RUNNER_GIVE_UP_SECONDS (the database away)
# stops its rclone and gives up; until then it rides the outage out. A running
# job whose heartbeat is older than JOBS_STALE_SECONDS therefore has no rclone
# left, and the sweep (every JOBS_STALE_SWEEP_SECONDS) retries, fails or
# cancels it: a dead runner is seen at most STALE + SWEEP seconds after it died.
JOBS_HEARTBEAT_SECONDS = env_int("JOBS_HEARTBEAT_SECONDS", 2)
JOBS_RUNNER_GIVE_UP_SECONDS = env_int("JOBS_RUNNER_GIVE_UP_SECONDS", 12)
JOBS_STALE_SECONDS = env_int("JOBS_STALE_SECONDS", 20)
JOBS_STALE_SWEEP_SECONDS = env_int("JOBS_STALE_SWEEP_SECONDS", 5)
# The sweep must never re-queue a job whose rclone may still run: the runner's
# give-up, plus the SIGTERM grace, plus slack (one Redis cancel poll blocked
# for its 2 s socket timeout, a slow host) stays below the stale threshold.
JOBS_STALE_MARGIN_SECONDS = 4
if not 0 < JOBS_HEARTBEAT_SECONDS < JOBS_RUNNER_GIVE_UP_SECONDS:
    raise ImproperlyConfigured("JOBS_HEARTBEAT_SECONDS must be above 0 and below JOBS_RUNNER_GIVE_UP_SECONDS.")
if JOBS_RUNNER_GIVE_UP_SECONDS + JOBS_CANCEL_GRACE_MS / 1000 + JOBS_STALE_MARGIN_SECONDS > JOBS_STALE_SECONDS:
    raise ImproperlyConfigured(
        f"JOBS_STALE_SECONDS must be at least JOBS_RUNNER_GIVE_UP_SECONDS + JOBS_CANCEL_GRACE_MS/1000 + "
        f"{JOBS_STALE_MARGIN_SECONDS}, or a job could be re-run while its first rclone still copies.")
if JOBS_STALE_SWEEP_SECONDS <= 0:
    raise ImproperlyConfigured("JOBS_STALE_SWEEP_SECONDS must be above 0.")
# Where each run's private directory (its rclone config and filter file) is
# made; the system's temporary directory unless set.
JOBS_RUN_DIR_ROOT = os.environ.get("JOBS_RUN_DIR_ROOT", "").strip() or tempfile.gettempdir()
# A pending/queued job still unclaimed this long after its task was due lost
# that task (broker flushed, worker died before claiming): it is re-enqueued.
JOBS_LOST_QUEUED_SECONDS = env_int("JOBS_LOST_QUEUED_SECONDS", 300)
# rclone's own --retries inside one run (the job system retries whole runs on top).
RCLONE_RETRIES = env_int("RCLONE_RETRIES", 1)
# rclone's --low-level-retries (its default is 10, with backoff: minutes against a dead server).
RCLONE_LOW_LEVEL_RETRIES = env_int("RCLONE_LOW_LEVEL_RETRIES", 10)
# Job logs: monthly partitions dropped after one whole month, rows older than
# JOB_LOG_RETENTION_DAYS deleted daily (seed 001: 30 days).
JOB_LOG_RETENTION_DAYS = env_int("JOB_LOG_RETENTION_DAYS", 30)
JOB_LOG_RETENTION_MONTHS = 1
CELERY_BEAT_SCHEDULE.update({
    "jobs-recover-stale": {"task": "jobs.tasks.recover_stale_jobs", "schedule": float(JOBS_STALE_SWEEP_SECONDS)},
    "jobs-requeue-lost": {"task": "jobs.tasks.requeue_lost_jobs", "schedule": 60.0},
    "jobs-schedules-tick": {"task": "jobs.tasks.schedules_tick", "schedule": 30.0},
    "jobs-prune-logs": {"task": "jobs.tasks.prune_job_logs", "schedule": crontab(minute=40, hour=2)},
})

# --------------------------------------------------------------------------- operations

# GET /metrics (Prometheus text format) answers a caller that sends
# "Authorization: Bearer <METRICS_TOKEN>" or whose client IP (core.client_ip)
# is in METRICS_ALLOWED_IPS (IPs or CIDRs); anyone else gets 403. Neither set:
# nobody is let in. With several processes (web servers, workers) set the
# prometheus-client variable PROMETHEUS_MULTIPROC_DIR to one empty directory
# shared by all of them, so /metrics adds their counters up.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "").strip()
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS")
for _network in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: not an IP address or network: {_network!r}") from None
# Each web process and worker writes its samples to system_metrics (and its
# minute latencies to performance_metrics) every this
# many seconds (0 turns the sampler off).
METRICS_SAMPLE_SECONDS = env_int("METRICS_SAMPLE_SECONDS", 60)
# system_metrics and performance_metrics partitions are dropped after this many
# whole months.
METRICS_RETENTION_MONTHS = env_int("METRICS_RETENTION_MONTHS", 3) or None
# daily_stats and user_statistics: yesterday's rows, shortly after midnight UTC.
CELERY_BEAT_SCHEDULE["ops-daily-stats"] = {"task": "ops.tasks.daily_stats", "schedule": crontab(minute=5, hour=0)}
