"""How the desk says things: states in words, ages and durations in the unit that reads best."""
from datetime import timedelta

from django.utils import timezone

ORDER_STATE_WORDS = {
    "acknowledged": "received: checks not finished",
    "held": "held: needs an agent",
    "pending": "waiting for its start date or an appointment",
    "inProgress": "in progress",
    "completed": "completed",
    "partial": "completed in part",
    "failed": "failed",
    "rejected": "rejected",
    "cancelled": "cancelled",
    "assessingCancellation": "cancellation being assessed",
    "pendingCancellation": "being cancelled",
}


def age(since) -> str:
    """How long ago, in the largest unit that says it: 45 min, 5 h, 3 d."""
    if since is None:
        return "-"
    seconds = max(0, int((timezone.now() - since).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def duration(value) -> str:
    """A timedelta as an agent reads it: 45 min, 5.5 h, 3.2 d."""
    if value is None:
        return "-"
    if not isinstance(value, timedelta):
        return str(value)
    hours = value.total_seconds() / 3600
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def compact(value) -> str:
    """A JSON value read as text: {"ADDR-1": "GPON"} -> ADDR-1 GPON; lists joined."""
    if isinstance(value, dict):
        return "; ".join(f"{k} {compact(v)}" for k, v in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(compact(v) for v in value) or "-"
    return "-" if value in (None, "") else str(value)
