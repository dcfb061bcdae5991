"""The SOMs COM sends service orders to: their endpoints and secrets, event signatures, and the HTTP calls.

``settings.COM_SOM_ENDPOINTS`` maps a SOM key (the catalog's ``ServiceSpecification.som``) to
``{"url": base of its TMF641 API, "secret": key its events are signed with, "subscribe": register COM's
listener at its hub}``. A service order remembers the key of the SOM it was sent to, so an event about it
is accepted only with that SOM's signature.

Event signature (``X-Signature``, ``comapp.signing``): ``t=<unix seconds>,sha256=<hex>``, the HMAC-SHA256 with
the SOM's secret of ``"<t>." + raw body``. The timestamp is covered by the signature, and an event signed more than
``COM_SOM_EVENT_MAX_AGE_SECONDS`` from now is refused: a captured event cannot be replayed later (and a
replay within the window is a duplicate ``eventId``, which changes nothing).
"""
from __future__ import annotations

from dataclasses import dataclass

import requests
from django.conf import settings

from comapp import signing
from comapp.errors import ComError


class BadSignature(ComError):
    status, code, reason = 401, "BAD_SIGNATURE", "The event is not signed by a known SOM"


class UnknownSom(ComError):
    status, code, reason = 500, "UNKNOWN_SOM", "No such SOM endpoint is configured"


@dataclass(frozen=True)
class SomEndpoint:
    key: str
    url: str
    secret: str
    subscribe: bool = False


def endpoints() -> dict[str, SomEndpoint]:
    result = {}
    for key, value in settings.COM_SOM_ENDPOINTS.items():
        value = value if isinstance(value, dict) else {"url": value}
        result[key] = SomEndpoint(key=key, url=value["url"].rstrip("/"),
                                  secret=value.get("secret") or settings.COM_SOM_EVENT_SECRET,
                                  subscribe=bool(value.get("subscribe", False)))
    return result


def endpoint(key: str) -> SomEndpoint:
    try:
        return endpoints()[key]
    except KeyError:
        raise UnknownSom(f"SOM {key!r} is not in COM_SOM_ENDPOINTS") from None


# --- signatures ------------------------------------------------------------------------------------

def verify(body: bytes, header: str | None, candidates: list[SomEndpoint]) -> SomEndpoint:
    """The SOM among ``candidates`` whose secret signed ``body``; BadSignature if none did or it is stale."""
    parsed = signing.parse(header)
    if parsed is None:
        raise BadSignature("X-Signature header missing or not 't=<unix seconds>,sha256=<hex>'")
    timestamp, digest = parsed
    age = signing.age_seconds(timestamp)
    if age > settings.COM_SOM_EVENT_MAX_AGE_SECONDS:
        raise BadSignature(f"The signature is {int(age)} s away from now; events signed more than "
                           f"{settings.COM_SOM_EVENT_MAX_AGE_SECONDS} s ago (or ahead) are refused")
    matched = None
    for som in candidates:
        # every candidate is compared, so the time taken does not say which secret matched
        if signing.matches(som.secret, body, timestamp, digest) and matched is None:
            matched = som
    if matched is None:
        raise BadSignature("X-Signature does not match the body")
    return matched


# --- HTTP ----------------------------------------------------------------------------------------------

class SomUnavailable(Exception):
    """SOM could not be asked (network error, 5xx, not JSON)."""


def _get(url: str, params: dict | None = None):
    try:
        response = requests.get(url, params=params, timeout=settings.COM_HTTP_TIMEOUT,
                                headers={"Accept": "application/json"}, allow_redirects=False)
    except requests.RequestException as exc:
        raise SomUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise SomUnavailable(f"HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError as exc:
        raise SomUnavailable("the answer is not JSON") from exc


def get_service_order(som: str, som_order_id: str) -> dict | None:
    """TMF641 ``GET serviceOrder/{id}``: SOM's order, or None if SOM does not know it."""
    data = _get(f"{endpoint(som).url}/serviceOrder/{som_order_id}")
    if data is not None and not isinstance(data, dict):
        raise SomUnavailable("the answer is not a service order")
    return data


def find_service_order(som: str, external_id: str) -> dict | None:
    """TMF641 ``GET serviceOrder?externalId=``: SOM's order for COM's id, or None if it has none."""
    data = _get(f"{endpoint(som).url}/serviceOrder", params={"externalId": external_id})
    if data is None:
        return None
    orders = data if isinstance(data, list) else [data]
    for order in orders:
        if isinstance(order, dict) and order.get("externalId") == external_id and order.get("id"):
            return order
    return None


def register_listener(som: str, callback: str) -> str:
    """TMF641 ``POST /hub`` with COM's listener as the callback; returns the subscription id."""
    try:
        response = requests.post(f"{endpoint(som).url}/hub", json={"callback": callback},
                                 timeout=settings.COM_HTTP_TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise SomUnavailable(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code not in (200, 201):
        raise SomUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
    try:
        return str(response.json()["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise SomUnavailable("the hub answer has no id") from exc
