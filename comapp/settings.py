"""Settings, all from the environment.

Defaults run with nothing installed but Python: a SQLite file in the repo folder and kombu's
``filesystem://`` broker. Set ``DATABASE_URL`` and ``CELERY_BROKER_URL`` for PostgreSQL and Redis.
``comapp.production`` hardens these for a deployment (``manage.py check --deploy`` passes there).
"""
from pathlib import Path
import os

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


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
    "simple_history",
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# Request bodies over this size are refused (413, TMF error body).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("COM_MAX_BODY_BYTES", 256 * 1024))

LOGIN_URL = "admin:login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "orders.api.authentication.ChannelTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
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
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    # Crash recovery for the outbox: anything due and not delivered is picked up again.
    "relay-outbox": {"task": "orders.tasks.relay_outbox", "schedule": float(os.environ.get("COM_RELAY_SECONDS", 5))},
    # Service orders SOM has gone quiet about are read back (TMF641 GET) and, if still silent, fall out.
    "poll-silent-service-orders": {"task": "orders.tasks.poll_silent_service_orders", "schedule": 60.0},
    # Orders whose checks never ran (a lost task) are started again.
    "resume-stalled-orders": {"task": "orders.tasks.resume_stalled_orders", "schedule": 60.0},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / ".celerybeat-schedule")

# --- COM -----------------------------------------------------------------------------------------
# The SOM (TMF641) that service orders go to, and the secret it signs fulfilment events with.
COM_SOM_ENDPOINTS = {"default": os.environ.get("COM_SOM_URL", "http://127.0.0.1:8100/tmf-api/serviceOrdering/v4")}
COM_SOM_EVENT_SECRET = os.environ.get("SOM_EVENT_SECRET", "somsim-demo-secret")
COM_HTTP_TIMEOUT = float(os.environ.get("COM_HTTP_TIMEOUT", 5))
COM_SOM_POLL_AFTER_SECONDS = int(os.environ.get("COM_SOM_POLL_AFTER_SECONDS", 300))
COM_SOM_SILENCE_FALLOUT_SECONDS = int(os.environ.get("COM_SOM_SILENCE_FALLOUT_SECONDS", 3600))
# Outbox delivery: attempts and backoff (seconds, doubled per attempt up to the cap).
COM_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("COM_OUTBOX_MAX_ATTEMPTS", 10))
COM_OUTBOX_BACKOFF = float(os.environ.get("COM_OUTBOX_BACKOFF", 2))
COM_OUTBOX_BACKOFF_CAP = float(os.environ.get("COM_OUTBOX_BACKOFF_CAP", 300))
# The business checks run after capture, in order. Each is a small class (orders/checks.py).
COM_ORDER_CHECKS = [
    "orders.checks.BusinessRuleCheck",
    "orders.checks.ServiceabilityCheck",
    "orders.checks.CreditCheck",
    "orders.checks.FraudVelocityCheck",
    "orders.checks.DuplicateOrderCheck",
]
COM_MAX_PRODUCTS_PER_ACCOUNT = int(os.environ.get("COM_MAX_PRODUCTS_PER_ACCOUNT", 10))
COM_FRAUD_VELOCITY_MAX_ORDERS = int(os.environ.get("COM_FRAUD_VELOCITY_MAX_ORDERS", 5))
COM_FRAUD_VELOCITY_WINDOW_MINUTES = int(os.environ.get("COM_FRAUD_VELOCITY_WINDOW_MINUTES", 60))
COM_DEFAULT_CREDIT_LIMIT = os.environ.get("COM_DEFAULT_CREDIT_LIMIT", "200.00")
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
