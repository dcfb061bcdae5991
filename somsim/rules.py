"""Behaviour rules: failure injection per service specification and per order.

A rule is ``{"match": {...}, "behaviour": "...", ...parameters}``.  Every key
of ``match`` is optional and all given keys must match:

* ``serviceSpecification`` -- an item's ``service.serviceSpecification`` name or id;
* ``relatedPartyId``       -- the id of any of the order's ``relatedParty``;
* ``externalIdPrefix``     -- a prefix of the order's ``externalId``.

Item behaviours apply to the matching items: ``fail``, ``fail_first``
(+``count``), ``item_state`` (+``state``, +``seconds`` for held/pending),
``milestones`` (+``milestones``, optional ``seconds``), ``pause`` (+``seconds``,
optional ``milestone``) and ``point_of_no_return`` (+``milestone``).  For each
item the first rule of a kind that applies wins (the final state: ``fail``,
``fail_first`` or a final ``item_state``; the held/pending interlude; the
milestones; the pause; the point of no return).

Order behaviours apply when the order matches and, if the rule names a
service specification, at least one of its items does: ``http_503``
(+``count``), ``silent``, ``duplicate_events``, ``out_of_order``, ``delay``
(+``seconds``), ``order_level_only`` and ``drop_events`` (+``probability``,
optional ``seed``).

Rules and their counters live in memory: each start loads them from the
``--config`` file, the ``/_sim/rules`` API adds to or clears them.  What the
rules decide for an order is fixed when the order is accepted (its *plan*) and
stored with it, so a restarted simulator progresses it the same way.
"""

import itertools
import threading

from . import tmf

ITEM_BEHAVIOURS = ("fail", "fail_first", "item_state", "milestones", "pause",
                   "point_of_no_return")
ORDER_BEHAVIOURS = ("http_503", "silent", "duplicate_events", "out_of_order", "delay",
                    "order_level_only", "drop_events", "slow_answer")
FINAL_ITEM_STATES = ("cancelled", "partial", "failed")
INTERLUDE_ITEM_STATES = ("held", "pending")
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
    if behaviour in ("delay", "pause", "slow_answer"):
        rule["seconds"] = _seconds(raw, behaviour)
    if behaviour == "item_state":
        state = raw.get("state")
        if state not in FINAL_ITEM_STATES + INTERLUDE_ITEM_STATES:
            raise RuleError("item_state needs state, one of %s."
                            % ", ".join(FINAL_ITEM_STATES + INTERLUDE_ITEM_STATES))
        rule["state"] = state
        if state in INTERLUDE_ITEM_STATES:
            rule["seconds"] = _seconds(raw, "item_state %s" % state)
    if behaviour == "milestones":
        names = raw.get("milestones")
        if not isinstance(names, list) or not names or not all(
                isinstance(name, str) and name.strip() for name in names):
            raise RuleError("milestones needs milestones, a non-empty list of names.")
        if len(set(names)) != len(names):
            raise RuleError("milestones must not name a milestone twice.")
        rule["milestones"] = list(names)
        if raw.get("seconds") is not None:
            rule["seconds"] = _seconds(raw, behaviour)
    if behaviour in ("pause", "point_of_no_return"):
        milestone = raw.get("milestone")
        if milestone is not None or behaviour == "point_of_no_return":
            if not isinstance(milestone, str) or not milestone.strip():
                raise RuleError("%s needs milestone, a milestone name." % behaviour)
            rule["milestone"] = milestone
    if behaviour == "drop_events":
        probability = raw.get("probability")
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) \
                or not 0 <= probability <= 1:
            raise RuleError("drop_events needs probability, a number from 0 to 1.")
        rule["probability"] = float(probability)
        seed = raw.get("seed")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise RuleError("seed must be an integer.")
            rule["seed"] = seed
    if "id" in raw:
        if not isinstance(raw["id"], str) or not raw["id"]:
            raise RuleError("id must be a non-empty string.")
        rule["id"] = raw["id"]
    return rule


def _seconds(raw, what):
    seconds = raw.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise RuleError("%s needs seconds, a number >= 0." % what)
    return float(seconds)


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


def new_item_plan(end=None, failure=None):
    """How one item is progressed; ``end`` None means ``completed``."""
    return {"end": end, "failure": failure, "interlude": None, "milestones": None,
            "milestoneSeconds": None, "pause": None, "pointOfNoReturn": None}


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
        "orderLevelOnly", "drop", "slowAnswer", "items", "progress"}`` where ``items`` maps
        each item id to ``{"end", "failure", "interlude", "milestones",
        "milestoneSeconds", "pause", "pointOfNoReturn"}``.  Counting
        ``fail_first`` rules advance their counters here, per
        (rule, service specification, set of related party ids).
        """
        plan = {"silent": False, "duplicateEvents": False, "outOfOrder": False,
                "stepDelay": None, "orderLevelOnly": False, "drop": None, "slowAnswer": 0.0,
                "items": {item["id"]: new_item_plan() for item in order["serviceOrderItem"]},
                "progress": {}}
        parties = frozenset(tmf.party_ids(order))
        with self._lock:
            for rule in self._rules:
                behaviour = rule["behaviour"]
                if behaviour in ITEM_BEHAVIOURS:
                    for item in order["serviceOrderItem"]:
                        if matches_item(rule, order, item):
                            self._plan_item(plan["items"][item["id"]], rule, item, parties)
                elif matches_order(rule, order):
                    if behaviour == "silent":
                        plan["silent"] = True
                    elif behaviour == "duplicate_events":
                        plan["duplicateEvents"] = True
                    elif behaviour == "out_of_order":
                        plan["outOfOrder"] = True
                    elif behaviour == "order_level_only":
                        plan["orderLevelOnly"] = True
                    elif behaviour == "delay" and plan["stepDelay"] is None:
                        plan["stepDelay"] = rule["seconds"]
                    elif behaviour == "slow_answer" and not plan["slowAnswer"]:
                        plan["slowAnswer"] = rule["seconds"]
                    elif behaviour == "drop_events" and plan["drop"] is None:
                        plan["drop"] = {"probability": rule["probability"],
                                        "seed": rule.get("seed"), "rule": rule["id"]}
        return plan

    def _plan_item(self, item_plan, rule, item, parties):
        behaviour = rule["behaviour"]
        if behaviour in ("fail", "fail_first"):
            failure = self._item_failure(rule, item, parties)
            if failure and item_plan["end"] is None:
                item_plan["end"] = "failed"
                item_plan["failure"] = failure
        elif behaviour == "item_state":
            state = rule["state"]
            if state in INTERLUDE_ITEM_STATES:
                if item_plan["interlude"] is None:
                    item_plan["interlude"] = {"state": state, "seconds": rule["seconds"]}
            elif item_plan["end"] is None:
                item_plan["end"] = state
                if state == "failed":
                    label = tmf.specification_of(item)[1] or tmf.specification_of(item)[0]
                    item_plan["failure"] = {
                        "reason": "Service provisioning failed",
                        "message": "Simulated failure of %s (rule %s)." % (label, rule["id"])}
        elif behaviour == "milestones":
            if item_plan["milestones"] is None:
                item_plan["milestones"] = list(rule["milestones"])
                item_plan["milestoneSeconds"] = rule.get("seconds")
        elif behaviour == "pause":
            if item_plan["pause"] is None:
                item_plan["pause"] = {"milestone": rule.get("milestone"),
                                      "seconds": rule["seconds"]}
        elif behaviour == "point_of_no_return":
            if item_plan["pointOfNoReturn"] is None:
                item_plan["pointOfNoReturn"] = rule["milestone"]

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
