"""Settings of the demo and the tests, all from the environment.

Defaults run with nothing installed but Python: a SQLite file in the repo folder and kombu's
``filesystem://`` broker. Set ``DATABASE_URL`` and ``CELERY_BROKER_URL`` for PostgreSQL and Redis.
The defaults (secret key, SOM signing secret, addresses) are the demo's: ``comapp.production`` refuses
to start with them, and hardens the rest for a deployment (``manage.py check --deploy`` passes there).
"""
import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


# Demo default: comapp.production refuses it.
SECRET_KEY = os.environ.get("SECRET_KEY", "insecure-dev-key-change-me-in-production-0123456789abcdef")
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "comapp",
    "catalog",
    "inventory",
    "orders",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "comapp.urls"
# TMF clients POST without a trailing slash; the API routes accept both, so no redirect is ever needed.
APPEND_SLASH = False

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

WSGI_APPLICATION = "comapp.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=60
    )
}
# A kept connection the server has closed since (restart, failover, pg_terminate_backend) is replaced before the
# next request or task uses it, instead of failing that request with a 500.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


def cache_config(url: str) -> dict:
    """The ``default`` cache: Redis (django-redis) for a ``redis://`` URL, else the database cache.

    Both are shared by every process and host of a deployment, so the per-channel throttle holds with
    several gunicorn workers. The database cache's table is created by ``migrate`` (comapp.apps).
    """
    if url.startswith(("redis://", "rediss://", "unix://")):
        return {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url, "KEY_PREFIX": "com",
                "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"}}
    if url:
        raise ValueError(f"CACHE_URL must be a redis:// URL (or unset for the database cache), not {url!r}")
    return {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "com_cache"}


# CACHE_URL, e.g. redis://127.0.0.1:6379/1: its own Redis database, apart from the Celery broker's.
CACHES = {"default": cache_config(os.environ.get("CACHE_URL", "").strip())}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Admin logins: django-axes counts failures per username and IP in the database (shared by every process);
# after AXES_FAILURE_LIMIT failures that pair is locked out for AXES_COOLOFF_TIME, even with the right password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Behind a reverse proxy, the address is the one the proxy saw (comapp.client_address): set
# AXES_IPWARE_META_PRECEDENCE_ORDER (e.g. HTTP_X_FORWARDED_FOR,REMOTE_ADDR) and AXES_IPWARE_PROXY_COUNT (how many
# proxies are in front of COM). Unset, the connecting address counts, which behind a proxy is the proxy's.
AXES_CLIENT_IP_CALLABLE = "comapp.client_address.client_address"
AXES_IPWARE_META_PRECEDENCE_ORDER = tuple(env_list("AXES_IPWARE_META_PRECEDENCE_ORDER", "REMOTE_ADDR"))
try:
    AXES_IPWARE_PROXY_COUNT = int(os.environ["AXES_IPWARE_PROXY_COUNT"]) if os.environ.get(
        "AXES_IPWARE_PROXY_COUNT", "").strip() else None
except ValueError:
    raise ImproperlyConfigured("AXES_IPWARE_PROXY_COUNT must be a whole number: how many proxies are in front "
                               "of COM") from None

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# Request bodies over this size are refused (413, TMF error body).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("COM_MAX_BODY_BYTES", 256 * 1024))

LOGIN_URL = "admin:login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "orders.api.authentication.ChannelTokenAuthentication",
        # Session for the browsable pages and the admin's users; no Basic authentication: passwords are
        # never sent with API calls.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["orders.api.throttling.ChannelRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"channel": os.environ.get("COM_CHANNEL_RATE", "600/minute")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "comapp.exceptions.tmf_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "COM: Customer Order Management",
    "DESCRIPTION": "TMF622 Product Ordering, TMF620 Product Catalog (read), TMF637 Product Inventory (read) "
    "and the TMF641 listener for fulfilment events.",
    "VERSION": "4.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc served from this server (drf-spectacular-sidecar): no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "PREPROCESSING_HOOKS": ["comapp.openapi.without_trailing_slash"],
}

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
_broker_dir = Path(os.environ.get("COM_BROKER_DIR", BASE_DIR / ".broker"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("in", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "in"),
        "data_folder_out": str(_broker_dir / "in"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Longer than the longest task and any countdown, or Redis redelivers tasks still running.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("COM_BROKER_VISIBILITY_TIMEOUT", 3600))}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
def _every(task: str, seconds: float) -> dict:
    """A beat entry whose run expires if no worker starts it before the next one is due: under a backlog the
    sweeps do not pile up behind it (the next run does the same work)."""
    return {"task": f"orders.tasks.{task}", "schedule": seconds, "options": {"expires": seconds}}


CELERY_BEAT_SCHEDULE = {
    # The sweeps: each finds work whose task was lost (or failed) and queues it again, never twice at once.
    "relay-outbox": _every("relay_outbox", float(os.environ.get("COM_RELAY_SECONDS", 5))),
    "sweep-inbound-events": _every("sweep_inbound_events", float(os.environ.get("COM_RELAY_SECONDS", 5))),
    "resume-orders": _every("resume_orders", float(os.environ.get("COM_RESUME_SECONDS", 30))),
    # Service orders SOM is quiet about (or ended without saying how) are read back, and fall out if silent.
    "read-back-service-orders": _every("read_back_quiet_service_orders",
                                       float(os.environ.get("COM_READBACK_SWEEP_SECONDS", 60))),
    # Orders waiting on nothing, with no one on them, are put in front of a person (STALLED).
    "watchdog": _every("watchdog", float(os.environ.get("COM_WATCHDOG_SECONDS", 60))),
    # COM's listener registered at the hub of each SOM that wants it.
    "som-subscriptions": _every("ensure_som_subscriptions", 60.0),
}
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / ".celerybeat-schedule")

# --- COM -----------------------------------------------------------------------------------------
# The SOMs (TMF641) service orders go to: key -> {url, secret its events are signed with, subscribe: register
# COM's listener at its hub}. One SOM from COM_SOM_URL / SOM_EVENT_SECRET, or several as JSON in COM_SOM_ENDPOINTS.
# The defaults are the demo's simulator: comapp.production requires the SOMs and their secrets from the environment.
COM_SOM_EVENT_SECRET = os.environ.get("SOM_EVENT_SECRET", "somsim-demo-secret")
COM_SOM_ENDPOINTS = json.loads(os.environ["COM_SOM_ENDPOINTS"]) if os.environ.get("COM_SOM_ENDPOINTS") else {
    "default": {"url": os.environ.get("COM_SOM_URL", "http://127.0.0.1:8100/tmf-api/serviceOrdering/v4"),
                "secret": COM_SOM_EVENT_SECRET, "subscribe": env_bool("COM_SOM_SUBSCRIBE", False)},
}
# A SOM event signed further than this from now is refused (replay); within it, eventId de-duplicates.
COM_SOM_EVENT_MAX_AGE_SECONDS = int(os.environ.get("COM_SOM_EVENT_MAX_AGE_SECONDS", 300))
COM_HTTP_TIMEOUT = float(os.environ.get("COM_HTTP_TIMEOUT", 5))
COM_SOM_POLL_AFTER_SECONDS = int(os.environ.get("COM_SOM_POLL_AFTER_SECONDS", 300))
COM_SOM_SILENCE_FALLOUT_SECONDS = int(os.environ.get("COM_SOM_SILENCE_FALLOUT_SECONDS", 3600))
# A service order SOM ended without saying how some items ended: read back, then fallout after this long.
COM_SOM_READBACK_FALLOUT_SECONDS = int(os.environ.get("COM_SOM_READBACK_FALLOUT_SECONDS", 600))
# Reading such a service order back is tried this many times (backoff as the outbox's) before its items are
# taken to have ended as the order did.
COM_SOM_READBACK_ATTEMPTS = int(os.environ.get("COM_SOM_READBACK_ATTEMPTS", 5))
# Liveness: exceptions tolerated per piece of work before an INTERNAL_ERROR fallout; how long an order may be
# quiet before the watchdog looks at it; how long checks, a start, a message or an event may be overdue.
COM_MAX_PROCESSING_ATTEMPTS = int(os.environ.get("COM_MAX_PROCESSING_ATTEMPTS", 3))
COM_WATCHDOG_QUIET_SECONDS = int(os.environ.get("COM_WATCHDOG_QUIET_SECONDS", 120))
COM_CHECKS_DEADLINE_SECONDS = int(os.environ.get("COM_CHECKS_DEADLINE_SECONDS", 600))
# The sweep re-queues the checks of an order captured this long ago whose checks never started.
COM_CHECKS_RESUME_AFTER_SECONDS = int(os.environ.get("COM_CHECKS_RESUME_AFTER_SECONDS", 30))
# Outbox delivery: attempts and backoff (seconds, doubled per attempt up to the cap).
COM_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("COM_OUTBOX_MAX_ATTEMPTS", 10))
COM_OUTBOX_BACKOFF = float(os.environ.get("COM_OUTBOX_BACKOFF", 2))
COM_OUTBOX_BACKOFF_CAP = float(os.environ.get("COM_OUTBOX_BACKOFF_CAP", 300))
# How long a claimed or queued piece of work (an outbox message being sent, a stored SOM event queued) is left
# to its task before a sweep takes it again. Longer than COM_HTTP_TIMEOUT.
COM_TASK_LEASE_SECONDS = int(os.environ.get("COM_TASK_LEASE_SECONDS", 60))
# The business checks run after capture, in order. Each is a small class (orders/check_rules.py).
COM_ORDER_CHECKS = [
    "orders.check_rules.BusinessRuleCheck",
    "orders.check_rules.ProductInFlightCheck",
    "orders.check_rules.ServiceabilityCheck",
    "orders.check_rules.CreditCheck",
    "orders.check_rules.FraudVelocityCheck",
    "orders.check_rules.DuplicateOrderCheck",
    "orders.check_rules.AppointmentCheck",
]
COM_MAX_PRODUCTS_PER_ACCOUNT = int(os.environ.get("COM_MAX_PRODUCTS_PER_ACCOUNT", 10))
COM_FRAUD_VELOCITY_MAX_ORDERS = int(os.environ.get("COM_FRAUD_VELOCITY_MAX_ORDERS", 5))
COM_FRAUD_VELOCITY_WINDOW_MINUTES = int(os.environ.get("COM_FRAUD_VELOCITY_WINDOW_MINUTES", 60))
COM_DEFAULT_CREDIT_LIMIT = os.environ.get("COM_DEFAULT_CREDIT_LIMIT", "200.00")
# The demo: load_demo and load_demo_catalog run only where this is True (comapp.production sets False).
COM_DEMO_DATA_ALLOWED = True
# Hub (webhook) registration: callbacks to private, loopback, link-local, multicast or unspecified
# addresses are refused unless this is True (the demo's listeners run on this machine; production: False).
COM_WEBHOOK_ALLOW_PRIVATE = env_bool("COM_WEBHOOK_ALLOW_PRIVATE", True)
# At most this many hub subscriptions per channel.
COM_MAX_HUB_SUBSCRIPTIONS = int(os.environ.get("COM_MAX_HUB_SUBSCRIPTIONS", 10))
# Bounded input (TMF622 create and PATCH): each refusal is a 400 naming the limit.
COM_MAX_ITEMS_PER_ORDER = int(os.environ.get("COM_MAX_ITEMS_PER_ORDER", 100))
COM_MAX_CHARACTERISTICS_PER_ITEM = int(os.environ.get("COM_MAX_CHARACTERISTICS_PER_ITEM", 50))
COM_MAX_PRICES_PER_ITEM = int(os.environ.get("COM_MAX_PRICES_PER_ITEM", 10))
COM_MAX_RELATED_PARTIES = int(os.environ.get("COM_MAX_RELATED_PARTIES", 20))
COM_MAX_NOTES_PER_ORDER = int(os.environ.get("COM_MAX_NOTES_PER_ORDER", 50))  # over the order's whole life
COM_MAX_NOTE_LENGTH = int(os.environ.get("COM_MAX_NOTE_LENGTH", 4000))
COM_MAX_DESCRIPTION_LENGTH = int(os.environ.get("COM_MAX_DESCRIPTION_LENGTH", 4000))
# The public base URL used in href fields when there is no request (events, notifications).
COM_PUBLIC_URL = os.environ.get("COM_PUBLIC_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
