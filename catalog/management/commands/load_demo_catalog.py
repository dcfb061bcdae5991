"""``manage.py load_demo_catalog``: create whatever of the demo catalog is missing; safe to run again."""
from django.core.management.base import BaseCommand

from catalog.services import load_demo_catalog


class Command(BaseCommand):
    help = "Load the demo broadband catalog (services, specifications, offerings). Existing rows are left alone."

    def handle(self, *args, **options):
        result = load_demo_catalog()
        if options["verbosity"] > 0:
            self.stdout.write(str(result))
