"""``manage.py load_demo``: the demo catalog, users, channels, customers and serviceability table.

Idempotent: running it again changes nothing. Demo data only: every password is ``demo`` and the demo
channel's token is fixed (COM_DEMO_TOKEN) so the README's curl works as printed. It refuses to run where
``COM_DEMO_DATA_ALLOWED`` is False (production settings).
"""
import os
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orders import roles
from orders.models import Channel, CustomerProfile, ServiceabilityRecord, hash_token
from orders.services.channels import create_channel, rotate_channel_token

DEMO_TOKEN = os.environ.get("COM_DEMO_TOKEN", "demo-portal-token")
# The demo's people, each in a desk role (``orders.roles``: groups and permissions come from a migration).
USERS = [("agent", roles.AGENT, False), ("supervisor", roles.SUPERVISOR, False),
         ("catalog", roles.CATALOG_MANAGER, False), ("admin", None, True)]
# The groups earlier demos created (their permissions set here): replaced by the roles above.
OLD_GROUPS = ["Order desk agents", "Supervisors", "Catalog managers"]
CUSTOMERS = [
    ("CUST-1001", "Alice Martin", "postpaid", "200.00", "residential", "BA-1001"),
    ("CUST-2002", "Bob Osei", "prepaid", "0.00", "residential", "BA-2002"),
    ("CUST-3003", "Acme Manufacturing Ltd", "postpaid", "2000.00", "business", "BA-3003"),
    ("CUST-4004", "Carol Diaz", "postpaid", "20.00", "residential", "BA-4004"),
]
SERVICEABILITY = [
    ("ADDR-1001", "1 Fibre Street, Springfield", "GPON", 1000, 1),
    ("ADDR-1001", "1 Fibre Street, Springfield", "HFC", 500, 2),
    ("ADDR-2002", "22 Cable Road, Springfield", "HFC", 500, 1),
    ("ADDR-3003", "3 Business Park, Springfield", "GPON", 10000, 1),
    ("ADDR-4004", "4 Copper Lane, Farfield", "ADSL", 16, 1),
]


class Command(BaseCommand):
    help = "Load the demo catalog, users, channels, customers and serviceability (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        if not settings.COM_DEMO_DATA_ALLOWED:
            raise CommandError("load_demo creates users with the password 'demo' and a channel with a published "
                               "token: it does not run with production settings (COM_DEMO_DATA_ALLOWED is False). "
                               "Create admin users with 'manage.py createsuperuser' and channels with "
                               "'manage.py channel add NAME'.")
        call_command("load_demo_catalog", verbosity=options.get("verbosity", 1))
        User = get_user_model()
        Group.objects.filter(name__in=OLD_GROUPS).delete()
        for username, group, superuser in USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(username=username, password="demo", is_staff=True,
                                                is_superuser=superuser)
            if group:
                role = Group.objects.filter(name=group).first()
                if role is None:
                    raise CommandError(f"The group {group!r} is missing: run 'manage.py migrate' (it creates the "
                                       "order desk's roles)")
                user.groups.set([role])
        for name in ("portal", "cpq", "retail", "b2b"):
            if not Channel.objects.filter(name=name).exists():
                create_channel(name=name)
        portal = Channel.objects.get(name="portal")
        if portal.token_hash != hash_token(DEMO_TOKEN):
            rotate_channel_token(channel=portal, token=DEMO_TOKEN)
        for party_id, name, payment, limit, segment, account in CUSTOMERS:
            CustomerProfile.objects.get_or_create(party_id=party_id, defaults=dict(
                name=name, payment_type=payment, credit_limit=Decimal(limit), segment=segment,
                billing_account_id=account))
        for place_id, address, tech, speed, preference in SERVICEABILITY:
            ServiceabilityRecord.objects.get_or_create(place_id=place_id, technology=tech, defaults=dict(
                address=address, max_download_mbps=speed, preference=preference))
        if options.get("verbosity", 1):
            self.stdout.write("Demo data ready: users agent/supervisor/catalog/admin (password demo), "
                              "channels portal/cpq/retail/b2b, 4 customers, 5 serviceability rows.")
