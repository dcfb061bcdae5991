"""The project app: no models of its own, only the wiring every deployment needs after ``migrate``."""
from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


def create_cache_table(sender, using="default", verbosity=1, **kwargs):
    """Create the database cache's table (if a DatabaseCache is configured and it is missing).

    Runs after every ``migrate``, so a fresh database, the test database and ``make setup`` all have it;
    ``createcachetable`` is idempotent and does nothing for a Redis cache.
    """
    call_command("createcachetable", database=using, verbosity=1 if verbosity > 2 else 0)


class ComappConfig(AppConfig):
    name = "comapp"
    verbose_name = "COM"

    def ready(self):
        post_migrate.connect(create_cache_table, sender=self, dispatch_uid="comapp.create_cache_table")
