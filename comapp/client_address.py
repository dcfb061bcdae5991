"""The address a login attempt came from, for django-axes (``AXES_CLIENT_IP_CALLABLE``).

Behind a reverse proxy every request connects from the proxy: counting failures per username and *that* address
would let anyone lock a supervisor out for everybody. With ``AXES_IPWARE_META_PRECEDENCE_ORDER`` naming the
proxy's header (e.g. ``HTTP_X_FORWARDED_FOR,REMOTE_ADDR``) and ``AXES_IPWARE_PROXY_COUNT`` the number of proxies
in front of COM, the address is the one the outermost proxy saw: the ``count``-th entry from the right of the
header (each proxy appends the address it received the request from; what the client wrote itself stays to the
left, so it cannot choose its address). A header that is absent, too short or not an address is skipped;
``REMOTE_ADDR`` (the default, alone) is the connecting address. The same names as django-axes' ipware settings,
which this package does without (django-ipware is not installed).
"""
import ipaddress

from django.conf import settings


def client_address(request) -> str | None:
    count = settings.AXES_IPWARE_PROXY_COUNT or 1
    for key in settings.AXES_IPWARE_META_PRECEDENCE_ORDER:
        value = request.META.get(key) or ""
        addresses = [part.strip() for part in value.split(",") if part.strip()]
        if key == "REMOTE_ADDR":
            candidate = addresses[-1] if addresses else ""
        elif len(addresses) >= count:
            candidate = addresses[-count]
        else:
            continue
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None
