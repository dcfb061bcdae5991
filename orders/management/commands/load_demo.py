"""``manage.py load_demo``: the demo catalog, users, channels, customers and serviceability table.

Idempotent: running it again changes nothing. Demo data only: every password is ``demo`` and the demo
channel's token is fixed (COM_DEMO_TOKEN) so the README's curl works as printed.
"""
import os
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from orders.models import Channel, CustomerProfile, ServiceabilityRecord, hash_token
from orders.services.channels import create_channel, rotate_channel_token

DEMO_TOKEN = os.environ.get("COM_DEMO_TOKEN", "demo-portal-token")
GROUPS = {
    "Order desk agents": ["view_productorder", "view_productorderitem", "view_orderevent", "view_fallout",
                          "change_fallout", "view_ordercheckresult", "view_serviceorder", "view_serviceorderitem",
                          "view_product", "view_productoffering", "view_billingactivation"],
    "Supervisors": ["view_productorder", "change_productorder", "view_productorderitem", "view_orderevent",
                    "view_fallout", "change_fallout", "view_ordercheckresult", "view_serviceorder",
                    "view_serviceorderitem", "view_product", "view_productoffering", "view_billingactivation",
                    "view_customerprofile", "change_customerprofile"],
    "Catalog managers": [f"{verb}_{model}" for verb in ("view", "add", "change")
                         for model in ("productoffering", "productofferingprice", "productspecification",
                                       "productspeccharacteristic", "decompositionrule", "servicespecification")],
}
USERS = [("agent", "Order desk agents", False), ("supervisor", "Supervisors", False),
         ("catalog", "Catalog managers", False), ("admin", None, True)]
CUSTOMERS = [
    ("CUST-1001", "Alice Martin", "postpaid", "200.00", "residential"),
    ("CUST-2002", "Bob Osei", "prepaid", "0.00", "residential"),
    ("CUST-3003", "Acme Manufacturing Ltd", "postpaid", "2000.00", "business"),
    ("CUST-4004", "Carol Diaz", "postpaid", "20.00", "residential"),
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
        call_command("load_demo_catalog", verbosity=options.get("verbosity", 1))
        User = get_user_model()
        for name, perms in GROUPS.items():
            group, _ = Group.objects.get_or_create(name=name)
            group.permissions.set(Permission.objects.filter(codename__in=perms))
        for username, group, superuser in USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(username=username, password="demo", is_staff=True,
                                                is_superuser=superuser)
            if group:
                user.groups.add(Group.objects.get(name=group))
        for name in ("portal", "cpq", "retail", "b2b"):
            if not Channel.objects.filter(name=name).exists():
                create_channel(name=name)
        portal = Channel.objects.get(name="portal")
        if portal.token_hash != hash_token(DEMO_TOKEN):
            rotate_channel_token(channel=portal, token=DEMO_TOKEN)
        for party_id, name, payment, limit, segment in CUSTOMERS:
            CustomerProfile.objects.get_or_create(party_id=party_id, defaults=dict(
                name=name, payment_type=payment, credit_limit=Decimal(limit), segment=segment))
        for place_id, address, tech, speed, preference in SERVICEABILITY:
            ServiceabilityRecord.objects.get_or_create(place_id=place_id, technology=tech, defaults=dict(
                address=address, max_download_mbps=speed, preference=preference))
        if options.get("verbosity", 1):
            self.stdout.write("Demo data ready: users agent/supervisor/catalog/admin (password demo), "
                              "channels portal/cpq/retail/b2b, 4 customers, 5 serviceability rows.")
