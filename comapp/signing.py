"""HMAC signatures of webhook bodies, as COM signs its TMF622 events and as SOMs sign their TMF641 events.

``X-Signature: t=<unix seconds>,sha256=<hex>`` where hex is HMAC-SHA256(secret, ``"<t>." + raw body``): the
timestamp is covered by the signature, so a receiver can refuse an old message replayed later.
"""
import hashlib
import hmac
import time


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},sha256={digest}"


def parse(header: str | None) -> tuple[int, str] | None:
    """(timestamp, hex digest) of a signature header, or None if it is missing or malformed."""
    if not header:
        return None
    parts = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    try:
        return int(parts["t"]), parts["sha256"]
    except (KeyError, ValueError):
        return None


def matches(secret: str, body: bytes, timestamp: int, digest: str) -> bool:
    """Constant-time comparison of ``digest`` with the signature ``secret`` gives ``body`` at ``timestamp``."""
    expected = sign(secret, body, timestamp).split("sha256=", 1)[1]
    return hmac.compare_digest(expected, digest)


def age_seconds(timestamp: int) -> float:
    return abs(time.time() - timestamp)
