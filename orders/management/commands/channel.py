"""``manage.py channel add NAME`` | ``channel list`` | ``channel rotate NAME`` | ``channel show NAME``.

``add`` and ``rotate`` print the bearer token as the last word of their output (shown once; only its hash
is stored).
"""
from django.core.management.base import BaseCommand, CommandError

from comapp.errors import ComError
from orders.models import Channel
from orders.services.channels import create_channel, rotate_channel_token


class Command(BaseCommand):
    help = "Manage API channels (portal, CPQ, retail, B2B) and their bearer tokens."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("add", help="create a channel and print its token").add_argument("name")
        sub.add_parser("rotate", help="give a channel a new token").add_argument("name")
        sub.add_parser("show", help="show a channel's webhook signing secret").add_argument("name")
        sub.add_parser("list", help="list channels")

    def handle(self, *args, action, name=None, **options):
        try:
            if action == "add":
                channel, token = create_channel(name=name)
                self.stdout.write(f"Channel {channel.name} created.")
                self.stdout.write(f"Webhook signing secret: {channel.webhook_secret}")
                self.stdout.write(f"Token (shown once): {token}")
            elif action == "rotate":
                token = rotate_channel_token(channel=self._get(name))
                self.stdout.write(f"New token for {name} (shown once): {token}")
            elif action == "show":
                channel = self._get(name)
                self.stdout.write(f"{channel.name}: token {channel.token_prefix}..., active {channel.is_active}, "
                                  f"sees every channel's orders {channel.sees_all_channels}, "
                                  f"webhook signing secret {channel.webhook_secret}")
            else:
                for channel in Channel.objects.all():
                    self.stdout.write(f"{channel.name}\t{channel.token_prefix}...\t"
                                      f"{'active' if channel.is_active else 'inactive'}")
        except ComError as error:
            raise CommandError(error.message) from error

    @staticmethod
    def _get(name):
        channel = Channel.objects.filter(name=name).first()
        if channel is None:
            raise CommandError(f"No channel {name!r}")
        return channel
