"""``manage.py som_subscribe``: register COM's TMF641 listener at each SOM configured with ``subscribe``."""
from django.core.management.base import BaseCommand, CommandError

from orders.integrations.som import SomUnavailable
from orders.services.som_hub import ensure_subscriptions


class Command(BaseCommand):
    help = "Register COM's listener (POST /hub) at every SOM endpoint that has subscribe: true."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="register again even if already registered")

    def handle(self, *args, **options):
        try:
            done = ensure_subscriptions(force=options["force"])
        except SomUnavailable as exc:
            raise CommandError(f"A SOM could not be reached: {exc}") from exc
        for line in done or ["nothing to do: every SOM that wants COM's listener has it"]:
            self.stdout.write(line)
