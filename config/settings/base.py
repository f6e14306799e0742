"""The settings every environment shares, read from the environment (every variable:
docs/operations.md). Importing this module only reads; it changes nothing.

What differs between environments is in the module each one runs (config/settings/__init__.py
says which): the secrets, the database, HTTPS. production.py has no defaults for the secrets
nor the database; local.py has a developer's; test.py the tests'.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# SECRET_KEY and MESSAGE_SIGNING_KEY: in each environment's module.
# During a key rotation: the previous key(s), still accepted on incoming messages.
MESSAGE_SIGNING_OLD_KEYS = env.list("MESSAGE_SIGNING_OLD_KEYS", default=[])

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "django_celery_beat",
    "core",
    "csp",  # its system checks; the policy itself is the middleware's
    "axes",
    "accounts",
    "messaging",
    "sales",
    "delivery",
]

MIDDLEWARE = [
    "core.observability.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a log-in form's answer into the lockout page when axes locked the account.
    "axes.middleware.AxesMiddleware",
    # A database error in a view is a 503 (core/errors.py), not a 500 with a traceback.
    "core.errors.DatabaseErrorsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

# Which kind of process this is: config/wsgi.py says "web", manage.py says "maintenance" for
# migrate; Celery workers, beat, the relay and other commands are "worker". A person waits on
# the web, so its waits are the tightest; a migration may run long, but never waits long for a
# lock that live traffic holds.
PROCESS_KIND = os.environ.get("DJANGO_PROCESS_KIND", "worker")
if PROCESS_KIND not in ("web", "maintenance"):
    PROCESS_KIND = "worker"
# Seconds. connect: to open a connection. statement: the server cancels a longer statement (0:
# never). lock: the server gives up waiting for a row or table lock. A client-side deadline of
# statement + 1 s bounds every wait even on a server that no longer answers (core/db).
DATABASE_TIMEOUTS = {
    "web": {"connect": 1, "statement": 3, "lock": 2, "idle_in_transaction": 30},
    "worker": {"connect": 5, "statement": 30, "lock": 10, "idle_in_transaction": 60},
    "maintenance": {"connect": 5, "statement": 0, "lock": 10, "idle_in_transaction": 600},
}[PROCESS_KIND]


def database(url: str) -> dict:
    """The settings of the database at ``url`` (each environment's module says which URL):
    persistent connections, and the waits above."""
    config = env.db_url_config(url)
    # Persistent connections: opening a PostgreSQL connection costs more than a whole order.
    config["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    config["CONN_HEALTH_CHECKS"] = True
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["ENGINE"] = "core.db.backend"
        config.setdefault("OPTIONS", {}).update(
            {
                "options": (
                    f"-c statement_timeout={DATABASE_TIMEOUTS['statement'] * 1000}"
                    f" -c lock_timeout={DATABASE_TIMEOUTS['lock'] * 1000}"
                    # A client that died inside a transaction does not hold its row locks for long.
                    f" -c idle_in_transaction_session_timeout={DATABASE_TIMEOUTS['idle_in_transaction'] * 1000}"
                ),
                # A peer that vanished (host down, network cut) is noticed within about a minute
                # even on an idle connection.
                "keepalives": 1,
                "keepalives_idle": 30,
                "keepalives_interval": 10,
                "keepalives_count": 3,
            }
        )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Web, workers and beat share the file: take the write lock at BEGIN and wait for it,
        # instead of failing with "database is locked" halfway through a transaction.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


# DATABASES: in each environment's module, from database().
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- HTTPS and limits ------------------------------------------------------------------------
# Production is HTTPS: redirect, HSTS, secure cookies. DJANGO_HTTPS=0 for plain-HTTP local runs.
# local.py and test.py change the default, with the four settings that follow from it.
HTTPS = env.bool("DJANGO_HTTPS", default=True)
SECURE_SSL_REDIRECT = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes and scrapers speak HTTP
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    # Only behind a proxy that sets this header itself and strips it from clients.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024  # an order of 100 lines is about 5 KB

# Content-Security-Policy on every answer (django-csp 4). The pages (clerk pages, log-in, admin,
# API docs) load scripts, styles, fonts and data only from this origin, run no inline script and
# cannot be framed: injected markup can neither run a script nor post a form elsewhere. Swagger
# UI's icons are data: images; the API docs page adds the hash of its one inline <style>
# (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Accounts: log-in lockout (django-axes; see accounts/lockout.py) -----------------------------
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked account before its password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Wrong passwords are counted per account, whatever address they come from: many customers
# share one address (an office, a carrier-grade NAT), and an attacker has many.
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes.W006 warns that without the address an attacker could dodge the lock by changing
# User-Agent; not so here: axes sums an account's failures over every address and User-Agent
# (tests/sales/test_lockout.py proves it).
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
# Failures further apart than this are forgotten; a lock lasts this long after the failure
# that reached the limit. Attempts while locked are refused unrecorded, so they neither
# extend the lock nor cost a write each.
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The right password clears the count, so a customer's occasional typos never add up to a lock.
AXES_RESET_ON_SUCCESS = True
# No row per successful log-in: nothing reads them, and every log-in would pay for the write.
AXES_DISABLE_ACCESS_LOG = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_address"
AXES_USERNAME_CALLABLE = "accounts.lockout.client_username"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/delivery/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # simplejwt's, with the user read at most once per process every few seconds.
        "accounts.authentication.CachedUserJWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser plus a depth limit and no lone surrogates: hostile bodies are a 400.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "core.api.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Per user (or per address when anonymous) everywhere; per user and per address, and
    # stricter, on log-in, registration and placing orders (views name their throttle_scope).
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.RateLimitThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("THROTTLE_USER", default="1200/min"),
        "anon": env.str("THROTTLE_ANON", default="120/min"),
        "orders": env.str("THROTTLE_ORDERS", default="60/min"),
        "orders_address": env.str("THROTTLE_ORDERS_ADDRESS", default="600/min"),
        "auth": env.str("THROTTLE_AUTH", default="10/min"),
        "auth_address": env.str("THROTTLE_AUTH_ADDRESS", default="60/min"),
        "register": env.str("THROTTLE_REGISTER", default="5/hour"),
        "register_address": env.str("THROTTLE_REGISTER_ADDRESS", default="20/hour"),
    },
    # Behind a proxy, the client is the last address it adds to X-Forwarded-For.
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Order processing API",
    "DESCRIPTION": "Sales (catalogue, orders) and delivery (shipments). JSON; money as decimal strings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served by this app: no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.add_common_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "sales.models.OrderStatus",
        "ShipmentStatusEnum": "delivery.models.ShipmentStatus",
        "CancellationStateEnum": "sales.models.CancellationState",
    },
}


SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # "SIGNING_KEY": each environment's module adds its SECRET_KEY.
    # Every token carries a fingerprint of the user's password hash (an MD5 of the salted hash,
    # not of the password), checked against the user that authentication loads anyway: a
    # password change ends every token issued before it, at no extra query per request.
    "CHECK_REVOKE_TOKEN": True,
}

# Idempotency-Key records are kept at least this long (API.md: at least 24 hours).
IDEMPOTENCY_KEY_TTL = timedelta(hours=env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24))
# A key left "in progress" this long belongs to a request that died; a retry may take it over.
# A web request's every statement is bounded (DATABASE_TIMEOUTS), so a claim this old is dead,
# e.g. one whose release failed because the database was away: the client's retry after
# Retry-After must not find its key "in progress" for long. Taking over a live claim is safe:
# the first request then cannot complete the key, and its order rolls back.
IDEMPOTENCY_KEY_LOCK_TIMEOUT = timedelta(seconds=10)

# --- Messaging between the departments (messaging) ----------------------------------
# Which task of which department receives each message type.
MESSAGING_ROUTES = {
    "order.created": "delivery.order_created",
    "shipment.status_changed": "sales.shipment_status_changed",
    "order.cancellation_requested": "delivery.order_cancellation_requested",
    "shipment.cancellation_decided": "sales.shipment_cancellation_decided",
}
# A sent message not acknowledged within this is sent again; the wait doubles (with jitter)
# up to the cap, and after MESSAGING_MAX_ATTEMPTS sends the message is abandoned.
MESSAGING_ACK_TIMEOUT = timedelta(seconds=env.float("MESSAGING_ACK_TIMEOUT_SECONDS", default=5))
MESSAGING_RETRY_MAX_DELAY = timedelta(seconds=30)
MESSAGING_MAX_ATTEMPTS = 20
# While the receiving queue holds messages (its consumers are behind), a sent message is not
# sent again before this age: it most likely waits in that queue, and copies would only add to it.
MESSAGING_RESEND_PATIENCE = timedelta(minutes=5)
MESSAGING_CONSUMER_MAX_RETRIES = 5
MESSAGING_RETENTION = timedelta(days=7)

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://localhost:6379/0")
CELERY_BROKER_URL = REDIS_URL
# kombu's Redis transport with a crash on a lost connection worked around (core/broker.py).
CELERY_BROKER_TRANSPORT = "core.broker:Transport"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_RESULT_EXPIRES = None  # no results are kept, so beat needs no "celery.backend_cleanup"
CELERY_TIMEZONE = TIME_ZONE
# One queue per department; a task's name says whose it is.
# Accounts' housekeeping runs on the sales worker, which serves the customers.
CELERY_TASK_ROUTES = {
    "sales.*": {"queue": "sales"},
    "accounts.*": {"queue": "sales"},
    "delivery.*": {"queue": "delivery"},
}
CELERY_TASK_DEFAULT_QUEUE = "sales"
# A message leaves Redis for good only once its task has finished; a worker that dies mid-task
# (even by SIGKILL) gives it back.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Tasks are a few milliseconds each: a small prefetch saves a broker round trip per task, and
# what a killed worker had prefetched comes back after the visibility timeout (and is sent again
# by the outbox sooner than that anyway).
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 60,  # seconds before an unacknowledged message is handed out again
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # Publishing: one quick reconnect (a stale pooled connection), then give up; the outbox
    # retries. Without these, kombu keeps trying to connect for broker_connection_timeout.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Publishing never retries: a dead broker fails the publish at once, and the outbox retries.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Every task is bounded (our tasks take milliseconds; a database wait is bounded at 31 s by
# DATABASE_TIMEOUTS): at the soft limit the task is interrupted and retried, past the hard limit
# the worker process is replaced (config/celery.py enforces both in the solo pool too).
# The hard limit stays under the broker's visibility timeout, so a message is not handed to a
# second worker while the first still holds it.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=40)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=50)
CELERY_BEAT_SCHEDULER = "core.beat:OutageTolerantScheduler"
CELERY_BEAT_SCHEDULE = {
    "sales.purge_idempotency_keys": {"task": "sales.purge_idempotency_keys", "schedule": timedelta(hours=1)},
    "sales.purge_messages": {"task": "sales.purge_messages", "schedule": timedelta(hours=1)},
    "accounts.purge_expired_tokens": {"task": "accounts.purge_expired_tokens", "schedule": timedelta(hours=1)},
    "delivery.purge_messages": {"task": "delivery.purge_messages", "schedule": timedelta(hours=1)},
}

# --- Logging: one JSON object per line, on every process --------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "correlation": {"()": "core.context.CorrelationIdFilter"},
        "no_task_arguments": {"()": "core.context.DropTaskArgumentsFilter"},
    },
    "formatters": {
        "json": {
            "()": "core.context.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger", "process": "pid"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["correlation", "no_task_arguments"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Our request log (core.observability) replaces Django's own lines for 4xx/5xx.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        # A consumed message gets one line of ours ("message consumed": type, result, correlation
        # id); Celery's "received" and "succeeded" lines for every task would say it twice more.
        # Its warnings and errors still show; retries are logged by ConsumerTask.on_retry.
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        # Failures and lockouts are warnings; its info lines (a clean-up on every attempt) are noise.
        "axes": {"level": "WARNING"},
    },
}
# Celery workers and beat log through the configuration above, LOG_LEVEL included, and leave
# stdout and stderr alone (config/celery.py: Celery sets up no logging of its own).
# Celery's Django fix-up closes the database connection before and after every task unless this
# is set: a new PostgreSQL connection (a server process forked) per message, a quarter of a
# worker's time in the benchmark. With it, a connection is recycled every 1000 tasks; between,
# config/celery.py closes a broken or CONN_MAX_AGE-expired one around each task, as Django
# does around each request.
CELERY_DB_REUSE_MAX = 1000

# --- Metrics: Prometheus, summed over every process of this host ------------------------------
# Each process writes its figures here; core/metrics.py hands the directory to prometheus_client
# (and makes it) before prometheus_client is first imported.
PROMETHEUS_MULTIPROC_DIR = env.str(
    "PROMETHEUS_MULTIPROC_DIR", default=str(Path(tempfile.gettempdir()) / "order-processing-metrics")
)

# --- Error reporting (core/error_reporting.py says what an event may carry) ----------------
# Unset: off. The core app starts the SDK when Django starts (core/apps.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="") or None
# The share of requests and tasks traced (performance spans); 0: errors only.
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
