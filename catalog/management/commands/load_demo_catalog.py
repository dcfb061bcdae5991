"""``manage.py load_demo_catalog``: create whatever of the demo catalog is missing; safe to run again.

Demo data: it refuses to run where ``COM_DEMO_DATA_ALLOWED`` is False (production settings).
"""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from catalog.services import load_demo_catalog


class Command(BaseCommand):
    help = "Load the demo broadband catalog (services, specifications, offerings). Existing rows are left alone."

    def handle(self, *args, **options):
        if not settings.COM_DEMO_DATA_ALLOWED:
            raise CommandError("load_demo_catalog loads the demo catalog (demo offerings and prices): it does not "
                               "run with production settings (COM_DEMO_DATA_ALLOWED is False). Maintain the "
                               "catalog in the admin.")
        result = load_demo_catalog()
        if options["verbosity"] > 0:
            self.stdout.write(str(result))
