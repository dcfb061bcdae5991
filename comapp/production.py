"""Production settings: ``DJANGO_SETTINGS_MODULE=comapp.production``.

Everything in ``comapp.settings`` plus the hardening ``manage.py check --deploy`` asks for. SECRET_KEY,
ALLOWED_HOSTS, DATABASE_URL and CELERY_BROKER_URL must come from the environment.
"""
import os

from .settings import *  # noqa: F401,F403
from .settings import env_bool

DEBUG = False
SECRET_KEY = os.environ["SECRET_KEY"]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
WHITENOISE_USE_FINDERS = False
