"""Production settings: ``DJANGO_SETTINGS_MODULE=comapp.production`` (``make serve`` runs with them).

Everything in ``comapp.settings`` plus the hardening ``manage.py check --deploy`` asks for. Nothing of the
demo is usable here: every secret and every address comes from the environment (``require_env`` refuses
to start without one, or with a demo default; ``refuse_demo_address`` refuses the demo's addresses;
``require_som_endpoints`` checks each SOM's secret and address), demo
data cannot be loaded (``COM_DEMO_DATA_ALLOWED``), and webhooks to private, loopback and link-local
addresses are refused unless ``COM_WEBHOOK_ALLOW_PRIVATE``.
"""
import ipaddress
import os
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

# Values that only the demo may use: comapp.settings falls back to them when the variable is unset.
DEMO_VALUES = {
    "SECRET_KEY": {"insecure-dev-key-change-me-in-production-0123456789abcdef"},
    "SOM_EVENT_SECRET": {"somsim-demo-secret"},
}


# The demo's addresses: the SOM simulator's port on this host (``make run``'s SOM_PORT default).
DEMO_SOM_PORT = 8100


def _loopback(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_demo_address(name: str, url: str, *, som: bool) -> None:
    """ImproperlyConfigured for the demo's addresses: a public URL on loopback (channels follow its hrefs and
    cannot reach this host's loopback), a SOM at the simulator's port on this host. A SOM on this host at another
    port stays allowed: an adapter beside COM is a deployment choice."""
    parsed = urlsplit(url)
    if not _loopback(parsed.hostname or ""):
        return
    if not som:
        raise ImproperlyConfigured(f"{name} is a loopback address (the demo's): it is the base of the hrefs channels "
                                   "follow; set the address they reach COM at.")
    if (parsed.port or (443 if parsed.scheme == "https" else 80)) == DEMO_SOM_PORT:
        raise ImproperlyConfigured(f"{name} is the demo SOM simulator's address (port {DEMO_SOM_PORT} on this host); "
                                   "set your SOM's.")


def require_env(name: str) -> str:
    """The environment variable ``name``; ImproperlyConfigured if it is unset, blank or a demo value."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set in the environment to run with comapp.production (see README, "
            f"'PostgreSQL, Redis and production')."
        )
    if value in DEMO_VALUES.get(name, ()):
        raise ImproperlyConfigured(f"{name} is the demo's value; set a secret of your own for production.")
    return value


def require_som_endpoints(endpoints: dict) -> None:
    """Every SOM of ``COM_SOM_ENDPOINTS`` (JSON) has a URL and a secret of its own, not the demo's."""
    if not isinstance(endpoints, dict) or not endpoints:
        raise ImproperlyConfigured("COM_SOM_ENDPOINTS must be a JSON object: SOM key -> {url, secret}.")
    for key, value in endpoints.items():
        if not isinstance(value, dict):
            raise ImproperlyConfigured(f"COM_SOM_ENDPOINTS[{key!r}] must be an object {{url, secret}}.")
        if not str(value.get("url") or "").strip():
            raise ImproperlyConfigured(f"COM_SOM_ENDPOINTS[{key!r}] needs a url.")
        refuse_demo_address(f"COM_SOM_ENDPOINTS[{key!r}]", str(value["url"]), som=True)
        secret = str(value.get("secret") or "").strip()
        if not secret:
            raise ImproperlyConfigured(f"COM_SOM_ENDPOINTS[{key!r}] needs the secret its events are signed with.")
        if secret in DEMO_VALUES["SOM_EVENT_SECRET"]:
            raise ImproperlyConfigured(f"COM_SOM_ENDPOINTS[{key!r}] has the demo's secret; set one of your own.")


# Checked before the base settings load, so a missing one stops everything before anything is created.
# The SOMs: several as JSON in COM_SOM_ENDPOINTS (each with its secret), or one from COM_SOM_URL and
# SOM_EVENT_SECRET.
_SOM_FROM_JSON = bool(os.environ.get("COM_SOM_ENDPOINTS", "").strip())
for _name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "COM_PUBLIC_URL",
              *(() if _SOM_FROM_JSON else ("COM_SOM_URL", "SOM_EVENT_SECRET"))):
    require_env(_name)
refuse_demo_address("COM_PUBLIC_URL", require_env("COM_PUBLIC_URL"), som=False)
if not _SOM_FROM_JSON:
    refuse_demo_address("COM_SOM_URL", require_env("COM_SOM_URL"), som=True)

from .settings import *  # noqa: E402,F401,F403
from .settings import COM_SOM_ENDPOINTS, env_bool, env_list  # noqa: E402

DEBUG = False
SECRET_KEY = require_env("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "")
# No fallback secret: a SOM without its own secret is refused above, never signed with the demo's.
COM_SOM_EVENT_SECRET = "" if _SOM_FROM_JSON else require_env("SOM_EVENT_SECRET")
require_som_endpoints(COM_SOM_ENDPOINTS)
COM_PUBLIC_URL = require_env("COM_PUBLIC_URL")

# No demo here: load_demo and load_demo_catalog refuse to run; admin users come from createsuperuser.
COM_DEMO_DATA_ALLOWED = False
# Hub callbacks must resolve to public addresses only, unless the operator allows a private network.
COM_WEBHOOK_ALLOW_PRIVATE = env_bool("COM_WEBHOOK_ALLOW_PRIVATE", False)

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
