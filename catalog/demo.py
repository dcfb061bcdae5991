"""The demo catalog as data: a small broadband portfolio that ``services.load_demo_catalog`` writes.

Other parts of the system and their tests refer to these codes and ids, so they are part of the contract:
change a code here only together with everything that names it.
"""
from datetime import datetime, timezone
from decimal import Decimal

from catalog.models import FailurePolicy, LifecycleStatus, PriceType, ValueType

SELLING_FROM = datetime(2025, 1, 1, tzinfo=timezone.utc)

# code, name, max_retries, failure_policy, shareable, reversible, depends_on (codes)
SERVICE_SPECIFICATIONS = [
    ("Internet-Access", "Internet access line", 2, FailurePolicy.COMPENSATE, True, True, []),
    ("WiFi-Management", "Managed home WiFi", 0, FailurePolicy.FALLOUT, False, True, []),
    ("CPE-Management", "CPE management", 2, FailurePolicy.COMPENSATE, True, True, []),
    ("Static-IP", "Static IP addressing", 1, FailurePolicy.FALLOUT, False, True, ["Internet-Access"]),
    ("Router-Configuration", "Managed router configuration", 1, FailurePolicy.COMPENSATE, False, True,
     ["CPE-Management"]),
    ("SLA-Monitoring", "SLA monitoring", 1, FailurePolicy.COMPENSATE, False, True, []),
    ("ONT-Installation", "Fibre ONT installation visit", 0, FailurePolicy.FALLOUT, False, False, []),
    ("Modem-Shipment", "Cable modem shipment", 0, FailurePolicy.FALLOUT, False, False, []),
]
# code -> (milestones SOM reports, in order; the point of no return; how it is undone past it or once built)
MILESTONES = {
    "Internet-Access": (["assigned", "activated"], "activated", "terminate"),
    "CPE-Management": (["reserved", "dispatched", "delivered"], "dispatched", "return"),
    "Static-IP": (["allocated", "activated"], "activated", "terminate"),
    "ONT-Installation": (["scheduled", "assigned", "installed"], "assigned", "cancel"),
    "Modem-Shipment": (["dispatched", "delivered"], "dispatched", "return"),
}


def _char(name, value_type, mandatory, allowed, default, unit="", description=""):
    return {"name": name, "value_type": value_type, "mandatory": mandatory, "allowed_values": allowed,
            "default_value": default, "unit": unit, "description": description}


def _rule(service, *, mandatory=True, inputs=(), condition=None, technology=""):
    characteristic, operator, value = condition or ("", "", None)
    return {"service": service, "mandatory": mandatory, "input_characteristics": list(inputs),
            "condition_characteristic": characteristic, "condition_operator": operator, "condition_value": value,
            "technology": technology}


PRODUCT_SPECIFICATIONS = [
    {
        "spec_id": "PS-RES-BB", "name": "Residential Broadband Access", "requires_place": True,
        "characteristics": [
            _char("downloadSpeed", ValueType.INTEGER, True, [100, 200, 500], 200, "Mbps", "Download speed"),
            _char("wifiManagement", ValueType.BOOLEAN, False, [], True, description="Managed home WiFi"),
            _char("routerModel", ValueType.STRING, False, ["Nokia Beacon 6", "FritzBox 7590"], "Nokia Beacon 6",
                  description="Home router model"),
        ],
        "rules": [
            _rule("Internet-Access", inputs=["downloadSpeed"]),
            _rule("WiFi-Management", mandatory=False, condition=("wifiManagement", "eq", True),
                  inputs=["wifiManagement"]),
            _rule("CPE-Management", inputs=["routerModel"]),
        ],
    },
    {
        "spec_id": "PS-BIZ-FIBRE", "name": "Business Fibre Access", "requires_place": True,
        "characteristics": [
            _char("downloadSpeed", ValueType.INTEGER, True, [1000], 1000, "Mbps", "Download speed"),
            _char("sla", ValueType.STRING, True, ["standard", "premium"], "standard",
                  description="Service level agreement"),
        ],
        "rules": [
            _rule("Internet-Access", inputs=["downloadSpeed"]),
            _rule("CPE-Management"),
            _rule("SLA-Monitoring", inputs=["sla"]),
        ],
    },
    {
        "spec_id": "PS-STATIC-IP", "name": "Static IP Address", "requires_place": True,
        "characteristics": [
            _char("ipVersion", ValueType.STRING, True, ["IPv4", "IPv6"], "IPv4", description="IP version"),
            _char("numberOfAddresses", ValueType.INTEGER, False, [1, 8], 1, description="Number of addresses"),
        ],
        "rules": [_rule("Static-IP", inputs=["ipVersion", "numberOfAddresses"])],
    },
    {
        "spec_id": "PS-MANAGED-ROUTER", "name": "Managed Router", "requires_place": True,
        "characteristics": [
            _char("routerModel", ValueType.STRING, True, ["Cisco C1111", "Juniper SRX300"], None,
                  description="Router model"),
        ],
        "rules": [_rule("CPE-Management"), _rule("Router-Configuration", inputs=["routerModel"])],
    },
    {
        "spec_id": "PS-INSTALL", "name": "Installation", "requires_place": True, "requires_appointment": True,
        "characteristics": [
            _char("installationType", ValueType.STRING, True, ["standard", "premium"], "standard",
                  description="Installation type"),
        ],
        "rules": [
            _rule("ONT-Installation", technology="GPON", inputs=["installationType"]),
            _rule("Modem-Shipment", technology="HFC"),
        ],
    },
    {
        "spec_id": "PS-ADSL", "name": "ADSL Access", "requires_place": True,
        "characteristics": [_char("downloadSpeed", ValueType.INTEGER, True, [16], 16, description="Download speed")],
        "rules": [_rule("Internet-Access", inputs=["downloadSpeed"])],
    },
]


def _monthly(amount: str) -> dict:
    return {"name": "Monthly fee", "price_type": PriceType.RECURRING, "amount": Decimal(amount),
            "recurring_period": "month"}


def _option(name: str, amount: str, characteristic: str, value) -> dict:
    """A monthly charge that applies only with one value of a characteristic (a premium router, a faster line)."""
    return {**_monthly(amount), "name": name, "condition_characteristic": characteristic, "condition_value": value}


def _one_time(amount: str, name: str = "Activation fee") -> dict:
    return {"name": name, "price_type": PriceType.ONE_TIME, "amount": Decimal(amount), "recurring_period": ""}


PRODUCT_OFFERINGS = [
    {"offering_id": "PO-SUPERFIBRE-200", "name": "SuperFibre 200 Home", "spec_id": "PS-RES-BB",
     "category": "residential", "prices": [_monthly("39.99"), _one_time("49.00"),
                                           _option("Speed 500 Mbps", "10.00", "downloadSpeed", 500),
                                           _option("Premium router", "4.00", "routerModel", "FritzBox 7590")]},
    {"offering_id": "PO-BIZ-FIBRE-1G", "name": "Business Fiber 1Gbps", "spec_id": "PS-BIZ-FIBRE",
     "category": "business", "prices": [_monthly("149.00"), _one_time("199.00")]},
    {"offering_id": "PO-STATIC-IP", "name": "Static IP", "spec_id": "PS-STATIC-IP", "category": "business",
     "prices": [_monthly("5.00")]},
    {"offering_id": "PO-MANAGED-ROUTER", "name": "Managed Router", "spec_id": "PS-MANAGED-ROUTER",
     "category": "business", "prices": [_monthly("15.00")]},
    {"offering_id": "PO-INSTALL", "name": "Installation", "spec_id": "PS-INSTALL", "category": "residential",
     "prices": [_one_time("79.00", "Installation fee")]},
    {"offering_id": "PO-ADSL-16", "name": "ADSL Basic 16", "spec_id": "PS-ADSL", "category": "residential",
     "prices": [_monthly("19.99")], "lifecycle_status": LifecycleStatus.RETIRED,
     "valid_from": datetime(2015, 1, 1, tzinfo=timezone.utc), "valid_to": datetime(2024, 1, 1, tzinfo=timezone.utc)},
]
