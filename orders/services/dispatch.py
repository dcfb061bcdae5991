"""Queue Celery work once the current transaction commits, by task name.

Services never import ``orders.tasks`` (tasks import services): they name the task here. A message lost by
the broker is harmless: every piece of work queued here is also found by a sweep (``services.liveness``).
"""
from celery import current_app
from django.db import transaction


def after_commit(task: str, *args, countdown: float | None = None) -> None:
    """Send ``orders.tasks.<task>(*args)`` after commit (at once outside a transaction)."""
    def send():
        current_app.send_task(f"orders.tasks.{task}", args=list(args), countdown=countdown)

    transaction.on_commit(send)
