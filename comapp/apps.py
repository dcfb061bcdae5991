"""The project app: no models of its own, only the wiring every deployment needs after ``migrate``."""
from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate
from simple_history.signals import pre_create_historical_record


def create_cache_table(sender, using="default", verbosity=1, **kwargs):
    """Create the database cache's table (if a DatabaseCache is configured and it is missing).

    Runs after every ``migrate``, so a fresh database, the test database and ``make setup`` all have it;
    ``createcachetable`` is idempotent and does nothing for a Redis cache.
    """
    call_command("createcachetable", database=using, verbosity=1 if verbosity > 2 else 0)


def cut_change_reason(sender, history_instance=None, **kwargs):
    """django-simple-history stores the reason in a 100-character column: a longer one (an error message, a
    SOM's text) is cut here, for every model, instead of failing the change it explains (PostgreSQL refuses
    the row; SQLite would store it whole)."""
    reason = getattr(history_instance, "history_change_reason", None)
    if not reason:
        return
    limit = history_instance._meta.get_field("history_change_reason").max_length or 100
    if len(reason) > limit:
        history_instance.history_change_reason = reason[:limit - 1] + "…"


class ComappConfig(AppConfig):
    name = "comapp"
    verbose_name = "COM"

    def ready(self):
        post_migrate.connect(create_cache_table, sender=self, dispatch_uid="comapp.create_cache_table")
        pre_create_historical_record.connect(cut_change_reason, dispatch_uid="comapp.cut_change_reason")
