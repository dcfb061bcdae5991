"""Which hub callback URLs a channel may register: COM calls them, so they must not reach inside.

A callback is http or https, names a host and carries no credentials. Unless ``COM_WEBHOOK_ALLOW_PRIVATE``
(True in the demo, False in production), every address the host resolves to must be public: loopback,
link-local (169.254.169.254 is the cloud metadata service), private (RFC 1918, fc00::/7), unspecified,
multicast, reserved and other non-global addresses are refused. ``refused_address`` and ``addresses_of``
serve delivery too, which should check again at connect time (a name may resolve differently later).
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from comapp.errors import Problem, ValidationFailed

SCHEMES = ("http", "https")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def refused_address(address: IPAddress) -> str:
    """What kind of non-public address this is ('' for a public one)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    for kind, refused in (("unspecified", address.is_unspecified), ("loopback", address.is_loopback),
                          ("link-local", address.is_link_local), ("multicast", address.is_multicast),
                          ("private", address.is_private), ("reserved", address.is_reserved),
                          ("not publicly routable", not address.is_global)):
        if refused:
            return kind
    return ""


def addresses_of(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address literal is itself); socket.gaierror if none."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found = {info[4][0].split("%", 1)[0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    return sorted((ipaddress.ip_address(a) for a in found), key=str)


class CallbackUnresolved(ValidationFailed):
    """The callback's host cannot be resolved now (no answer, a DNS outage): not a refusal of the callback.
    Registration refuses it all the same (nothing was ever checked); delivery tries again later, bounded."""


def check_callback_url(url: str) -> None:
    """Raise ValidationFailed (at ``callback``) saying why COM will not call ``url``; CallbackUnresolved (one)
    if its host cannot be resolved now, so the private-address check could not be made."""
    def refuse(message: str):
        raise ValidationFailed(problems=[Problem("callback", message)], code="CALLBACK_REFUSED")

    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        refuse(f"must be an http or https URL, not {parts.scheme or 'one without a scheme'}")
    if parts.username is not None or parts.password is not None:
        refuse("must not carry credentials (user:password@): listeners verify the signature of each event")
    if not parts.hostname:
        refuse("must name a host")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        refuse("has an invalid port")
    if settings.COM_WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        addresses = addresses_of(parts.hostname, port)
    except UnicodeError:
        refuse(f"host {parts.hostname} does not resolve")
    except socket.gaierror as exc:
        raise CallbackUnresolved(problems=[Problem("callback", f"host {parts.hostname} does not resolve ({exc})")],
                                 code="CALLBACK_REFUSED") from exc
    if not addresses:
        refuse(f"host {parts.hostname} does not resolve")
    for address in addresses:
        kind = refused_address(address)
        if kind:
            where = str(address) if str(address) == parts.hostname else f"host {parts.hostname} resolves to {address}"
            refuse(f"{where}, a {kind} address: callbacks must reach a public address "
                   f"(COM_WEBHOOK_ALLOW_PRIVATE is off)")
