"""Queue Celery work once the current transaction commits, by task name.

Services never import ``orders.tasks`` (tasks import services): they name the task here. A message lost by
the broker is harmless: every piece of work queued here is also found by a sweep (``services.liveness``).
That is also why a broker that is down when the message is sent is only logged: the change that queued the
work is already committed (an order stored, a message recorded), and failing the caller now (a 500 for an
order that exists, an exception in a worker after its commit) would lose nothing but the answer.
"""
import logging
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)


def queued_until() -> datetime:
    """Until when queued work (an order's checks, a stored SOM event) is left to its task before a sweep queues
    it again (COM_TASK_LEASE_SECONDS)."""
    return timezone.now() + timedelta(seconds=settings.COM_TASK_LEASE_SECONDS)


def send_now(task: str, *args, countdown: float | None = None) -> bool:
    """Send ``orders.tasks.<task>(*args)`` now; False (logged) if the broker cannot take it."""
    try:
        current_app.send_task(f"orders.tasks.{task}", args=list(args), countdown=countdown)
        return True
    except Exception as exc:  # noqa: BLE001 - any broker failure: the sweep finds the work (see the docstring)
        log.warning("broker unavailable, %s%s left to its sweep: %s: %s", task, tuple(args), type(exc).__name__, exc)
        return False


def after_commit(task: str, *args, countdown: float | None = None) -> None:
    """Send ``orders.tasks.<task>(*args)`` after commit (at once outside a transaction); never raises."""
    transaction.on_commit(lambda: send_now(task, *args, countdown=countdown))
