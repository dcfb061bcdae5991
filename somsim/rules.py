"""Behaviour rules: failure injection per service specification and per order.

A rule is ``{"match": {...}, "behaviour": "...", "count": N, "seconds": S}``.
Every key of ``match`` is optional and all given keys must match:

* ``serviceSpecification`` -- an item's ``service.serviceSpecification`` name or id;
* ``relatedPartyId``       -- the id of any of the order's ``relatedParty``;
* ``externalIdPrefix``     -- a prefix of the order's ``externalId``.

Item behaviours (``fail``, ``fail_first``) apply to the matching items.
Order behaviours (``http_503``, ``silent``, ``duplicate_events``,
``out_of_order``, ``delay``) apply when the order matches and, if the rule
names a service specification, at least one of its items does.

Rules and their counters live in memory: each start loads them from the
``--config`` file, the ``/_sim/rules`` API adds to or clears them.  What the
rules decide for an order is fixed when the order is accepted (its *plan*) and
stored with it, so a restarted simulator progresses it the same way.
"""

import itertools
import threading

from . import tmf

ITEM_BEHAVIOURS = ("fail", "fail_first")
ORDER_BEHAVIOURS = ("http_503", "silent", "duplicate_events", "out_of_order", "delay")
BEHAVIOURS = ITEM_BEHAVIOURS + ORDER_BEHAVIOURS
MATCH_KEYS = ("serviceSpecification", "relatedPartyId", "externalIdPrefix")
COUNTED = ("fail_first", "http_503")


class RuleError(ValueError):
    """A rule is malformed."""


def normalise_rule(raw):
    """Validate a rule and return a clean copy (without an id)."""
    if not isinstance(raw, dict):
        raise RuleError("A rule must be a JSON object.")
    behaviour = raw.get("behaviour")
    if behaviour not in BEHAVIOURS:
        raise RuleError("behaviour must be one of %s." % ", ".join(BEHAVIOURS))
    match = raw.get("match", {})
    if not isinstance(match, dict):
        raise RuleError("match must be an object.")
    unknown = sorted(set(match) - set(MATCH_KEYS))
    if unknown:
        raise RuleError("Unknown match key(s) %s; allowed: %s."
                        % (", ".join(unknown), ", ".join(MATCH_KEYS)))
    for key, value in match.items():
        if not isinstance(value, str) or not value:
            raise RuleError("match.%s must be a non-empty string." % key)
    rule = {"match": dict(match), "behaviour": behaviour}
    if behaviour in COUNTED:
        count = raw.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise RuleError("count must be a positive integer.")
        rule["count"] = count
    if behaviour == "delay":
        seconds = raw.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise RuleError("delay needs seconds, a number >= 0.")
        rule["seconds"] = float(seconds)
    if "id" in raw:
        if not isinstance(raw["id"], str) or not raw["id"]:
            raise RuleError("id must be a non-empty string.")
        rule["id"] = raw["id"]
    return rule


def _order_matches(match, order):
    party = match.get("relatedPartyId")
    if party is not None and party not in tmf.party_ids(order):
        return False
    prefix = match.get("externalIdPrefix")
    if prefix is not None and not (order.get("externalId") or "").startswith(prefix):
        return False
    return True


def _item_matches(match, item):
    wanted = match.get("serviceSpecification")
    return wanted is None or wanted in tmf.specification_of(item)


def matches_item(rule, order, item):
    """True when the rule applies to this item of this order."""
    return _order_matches(rule["match"], order) and _item_matches(rule["match"], item)


def matches_order(rule, order):
    """True when the rule applies to the order (or to any of its items)."""
    return _order_matches(rule["match"], order) and any(
        _item_matches(rule["match"], item) for item in order["serviceOrderItem"])


class RuleBook:
    """The active rules and the counters of the counted behaviours (thread-safe)."""

    def __init__(self, rules=()):
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._rules = []
        self._counters = {}
        if rules:
            self.add(rules)

    def add(self, raw_rules):
        """Validate and append rules (all or none); return the rule list."""
        cleaned = [normalise_rule(raw) for raw in raw_rules]
        with self._lock:
            for rule in cleaned:
                rule.setdefault("id", "rule-%d" % next(self._ids))
                self._rules.append(rule)
            return self._snapshot()

    def list(self):
        """Return a copy of the rule list."""
        with self._lock:
            return self._snapshot()

    def clear(self):
        """Remove every rule and forget all counters."""
        with self._lock:
            self._rules = []
            self._counters = {}

    def _snapshot(self):
        return [dict(rule, match=dict(rule["match"])) for rule in self._rules]

    def take_http_503(self, order):
        """Consume one http_503 answer for this order; return the rule or None."""
        with self._lock:
            for rule in self._rules:
                if rule["behaviour"] != "http_503" or not matches_order(rule, order):
                    continue
                used = self._counters.get(rule["id"], 0)
                if used < rule["count"]:
                    self._counters[rule["id"]] = used + 1
                    return rule
        return None

    def plan(self, order):
        """Decide, once, how a newly accepted order will be progressed.

        Returns ``{"silent", "duplicateEvents", "outOfOrder", "stepDelay",
        "failures": {item_id: {"reason", "message"}}}``.  Counting
        ``fail_first`` rules advance their counters here, per
        (rule, service specification, set of related party ids).
        """
        plan = {"silent": False, "duplicateEvents": False, "outOfOrder": False,
                "stepDelay": None, "failures": {}}
        parties = frozenset(tmf.party_ids(order))
        with self._lock:
            for rule in self._rules:
                behaviour = rule["behaviour"]
                if behaviour in ITEM_BEHAVIOURS:
                    for item in order["serviceOrderItem"]:
                        if matches_item(rule, order, item):
                            failure = self._item_failure(rule, item, parties)
                            if failure and item["id"] not in plan["failures"]:
                                plan["failures"][item["id"]] = failure
                elif matches_order(rule, order):
                    if behaviour == "silent":
                        plan["silent"] = True
                    elif behaviour == "duplicate_events":
                        plan["duplicateEvents"] = True
                    elif behaviour == "out_of_order":
                        plan["outOfOrder"] = True
                    elif behaviour == "delay" and plan["stepDelay"] is None:
                        plan["stepDelay"] = rule["seconds"]
        return plan

    def _item_failure(self, rule, item, parties):
        spec_id, spec_name = tmf.specification_of(item)
        label = spec_name or spec_id
        if rule["behaviour"] == "fail":
            return {"reason": "Service provisioning failed",
                    "message": "Simulated failure of %s (rule %s)." % (label, rule["id"])}
        key = (rule["id"], spec_id, spec_name, parties)
        seen = self._counters.get(key, 0)
        self._counters[key] = seen + 1
        if seen >= rule["count"]:
            return None
        return {"reason": "Service provisioning failed",
                "message": "Simulated failure %d of %d of %s (rule %s)."
                           % (seen + 1, rule["count"], label, rule["id"])}
