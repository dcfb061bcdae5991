"""COM project package: settings, Celery app, URLs and the one API error handler."""
from .celery import app as celery_app

__all__ = ("celery_app",)
