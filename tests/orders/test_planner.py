"""The decomposition engine on plain values: rules, conditions, technology, modify delta, delete, sharing,
dependencies, determinism."""
from orders.planner import CurrentService, ItemInput, Rule, plan

BROADBAND = (
    Rule("Internet-Access", True, ("downloadSpeed",), shareable=True),
    Rule("WiFi-Management", False, ("wifiManagement",), condition_characteristic="wifiManagement",
         condition_operator="eq", condition_value=True),
    Rule("CPE-Management", True, ("routerModel",), shareable=True),
)
STATIC_IP = (Rule("Static-IP", True, ("ipVersion",), depends_on=("Internet-Access",)),)
ROUTER = (Rule("CPE-Management", True, (), shareable=True), Rule("Router-Configuration", True, ("routerModel",)))
INSTALL = (Rule("ONT-Installation", True, technology="GPON"), Rule("Modem-Shipment", True, technology="HFC"))
PLACE = {"id": "ADDR-1", "role": "installationAddress"}
TECH = {"ADDR-1": "GPON"}


def add(item_id, rules, **chars):
    return ItemInput(item_id, "add", 1, chars, PLACE, rules)


def summary(services):
    return [(s.service_code, s.action, tuple(s.item_ids)) for s in services]


def test_mandatory_and_optional_services_with_a_condition():
    with_wifi = plan([add("1", BROADBAND, downloadSpeed=200, wifiManagement=True, routerModel="A")], TECH)
    assert summary(with_wifi) == [("Internet-Access", "add", ("1",)), ("WiFi-Management", "add", ("1",)),
                                  ("CPE-Management", "add", ("1",))]
    assert [s.mandatory for s in with_wifi] == [True, False, True]
    without = plan([add("1", BROADBAND, downloadSpeed=200, wifiManagement=False, routerModel="A")], TECH)
    assert [s.service_code for s in without] == ["Internet-Access", "CPE-Management"]


def test_services_get_their_inputs_and_the_access_technology():
    services = plan([add("1", BROADBAND, downloadSpeed=500, wifiManagement=False, routerModel="A")], TECH)
    assert services[0].characteristics == {"downloadSpeed": 500, "accessTechnology": "GPON"}


def test_technology_variant_follows_serviceability():
    assert [s.service_code for s in plan([add("1", INSTALL)], {"ADDR-1": "GPON"})] == ["ONT-Installation"]
    assert [s.service_code for s in plan([add("1", INSTALL)], {"ADDR-1": "HFC"})] == ["Modem-Shipment"]


def test_shared_service_of_a_bundle_is_planned_once():
    services = plan([add("1", BROADBAND, downloadSpeed=200, wifiManagement=False, routerModel="A"),
                     add("2", ROUTER, routerModel="Cisco")], TECH)
    cpe = [s for s in services if s.service_code == "CPE-Management"]
    assert len(cpe) == 1 and cpe[0].item_ids == ["1", "2"]


def test_shared_service_is_dimensioned_for_the_most_demanding_product():
    business = (Rule("Internet-Access", True, ("downloadSpeed",), shareable=True),)
    services = plan([add("1", BROADBAND, downloadSpeed=100, wifiManagement=False, routerModel="A"),
                     add("2", business, downloadSpeed=1000)], TECH)
    access = [s for s in services if s.service_code == "Internet-Access"]
    assert len(access) == 1 and access[0].characteristics["downloadSpeed"] == 1000


def test_dependency_between_services():
    services = plan([add("1", BROADBAND, downloadSpeed=200, wifiManagement=False, routerModel="A"),
                     add("2", STATIC_IP, ipVersion="IPv4")], TECH)
    static = next(s for s in services if s.service_code == "Static-IP")
    access = next(s for s in services if s.service_code == "Internet-Access")
    assert static.depends_on == [access.plan_key]


def test_modify_produces_only_the_changed_service():
    current = (CurrentService("Internet-Access", "SVC-1", {"downloadSpeed": 200, "accessTechnology": "GPON"}),
               CurrentService("CPE-Management", "SVC-2", {"routerModel": "A", "accessTechnology": "GPON"}))
    item = ItemInput("1", "modify", 1, {"downloadSpeed": 500, "wifiManagement": False, "routerModel": "A"}, PLACE,
                     BROADBAND, current)
    services = plan([item], TECH)
    assert summary(services) == [("Internet-Access", "modify", ("1",))]
    assert services[0].service_id == "SVC-1"
    assert services[0].characteristics["downloadSpeed"] == 500


def test_modify_adds_and_removes_services_whose_condition_changed():
    current = (CurrentService("Internet-Access", "SVC-1", {"downloadSpeed": 200, "accessTechnology": "GPON"}),
               CurrentService("WiFi-Management", "SVC-3", {"wifiManagement": True, "accessTechnology": "GPON"}),
               CurrentService("CPE-Management", "SVC-2", {"routerModel": "A", "accessTechnology": "GPON"}))
    off = ItemInput("1", "modify", 1, {"downloadSpeed": 200, "wifiManagement": False, "routerModel": "A"}, PLACE,
                    BROADBAND, current)
    assert summary(plan([off], TECH)) == [("WiFi-Management", "delete", ("1",))]


def test_delete_removes_every_service_except_one_still_shared():
    current = (CurrentService("Internet-Access", "SVC-1", {}), CurrentService("CPE-Management", "SVC-2", {}))
    item = ItemInput("1", "delete", 1, {}, PLACE, BROADBAND, current, frozenset({"SVC-2"}))
    services = plan([item], TECH)
    assert summary(services) == [("Internet-Access", "delete", ("1",))]
    assert services[0].service_id == "SVC-1"


def test_delete_removes_the_dependent_first():
    items = [
        ItemInput("1", "delete", 1, {}, PLACE, BROADBAND, (CurrentService("Internet-Access", "SVC-1", {}),)),
        ItemInput("2", "delete", 1, {}, PLACE, STATIC_IP, (CurrentService("Static-IP", "SVC-9", {}),)),
    ]
    services = plan(items, TECH)
    access = next(s for s in services if s.service_code == "Internet-Access")
    static = next(s for s in services if s.service_code == "Static-IP")
    assert access.depends_on == [static.plan_key] and static.depends_on == []


def test_no_change_and_unchanged_modify_plan_nothing():
    current = (CurrentService("Static-IP", "SVC-9", {"ipVersion": "IPv4", "accessTechnology": "GPON"}),)
    same = ItemInput("1", "modify", 1, {"ipVersion": "IPv4"}, PLACE, STATIC_IP, current)
    assert plan([same], TECH) == []
    assert plan([ItemInput("1", "noChange", 1, {}, PLACE, STATIC_IP, current)], TECH) == []


def test_plan_is_deterministic():
    items = [add("1", BROADBAND, downloadSpeed=200, wifiManagement=True, routerModel="A"),
             add("2", ROUTER, routerModel="Cisco"), add("3", STATIC_IP, ipVersion="IPv4")]
    first = plan(items, TECH)
    for _ in range(5):
        again = plan(items, TECH)
        assert [(s.plan_key, s.characteristics, s.item_ids, s.depends_on) for s in again] == \
               [(s.plan_key, s.characteristics, s.item_ids, s.depends_on) for s in first]


def test_each_service_carries_the_cfs_version_its_rule_names():
    # Item 2 was added to the order after Internet-Access was revised: its rule names version "ia-2".
    old = (Rule("Internet-Access", True, ("downloadSpeed",), shareable=True, service_ref="ia-1"),
           Rule("WiFi-Management", False, ("wifiManagement",), service_ref="wifi-1"))
    new = (Rule("Internet-Access", True, ("downloadSpeed",), shareable=True, service_ref="ia-2"),
           Rule("WiFi-Management", False, ("wifiManagement",), service_ref="wifi-2"))
    services = plan([add("1", old, downloadSpeed=200), add("2", new, downloadSpeed=500)], TECH)
    # the shared line is built once, with the version of the first item it serves
    assert [(s.service_code, s.item_ids, s.service_ref) for s in services] == [
        ("Internet-Access", ["1", "2"], "ia-1"), ("WiFi-Management", ["1"], "wifi-1"),
        ("WiFi-Management", ["2"], "wifi-2")]


def test_modify_and_delete_carry_the_version_the_product_specification_names():
    rules = (Rule("Internet-Access", True, ("downloadSpeed",), service_ref="ia-1"),
             Rule("WiFi-Management", False, ("wifiManagement",), condition_characteristic="wifiManagement",
                  condition_operator="eq", condition_value=True, service_ref="wifi-1"))
    current = (CurrentService("Internet-Access", "SVC-1", {"downloadSpeed": 200, "accessTechnology": "GPON"}),
               CurrentService("WiFi-Management", "SVC-3", {"wifiManagement": True, "accessTechnology": "GPON"}),
               CurrentService("Legacy-Voice", "SVC-7", {}))
    modify = ItemInput("1", "modify", 1, {"downloadSpeed": 500, "wifiManagement": False}, PLACE, rules, current)
    assert [(s.service_code, s.action, s.service_ref) for s in plan([modify], TECH)] == [
        ("Internet-Access", "modify", "ia-1"), ("WiFi-Management", "delete", "wifi-1"),
        ("Legacy-Voice", "delete", None)]  # no rule names it: the caller finds the version it was built with
    delete = ItemInput("1", "delete", 1, {}, PLACE, rules, current)
    assert [(s.service_code, s.service_ref) for s in plan([delete], TECH)] == [
        ("Internet-Access", "ia-1"), ("WiFi-Management", "wifi-1"), ("Legacy-Voice", None)]
