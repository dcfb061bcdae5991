"""Order creation, cancellation and the asynchronous progression of service orders.

A new order is acknowledged, its *plan* is decided by the behaviour rules and
stored with it, and a background thread progresses it one step at a time:

1. order and every item ``inProgress``              -> ServiceOrderStateChangeEvent;
2. item by item (by item id), the item's *script*:
   * ``hold``: the item goes ``held`` or ``pending`` -> ServiceOrderAttributeValueChangeEvent,
   * ``resume``: ``seconds`` later back to ``inProgress`` -> ServiceOrderAttributeValueChangeEvent,
   * ``milestone``: one per named milestone, in order  -> ServiceOrderMilestoneEvent,
   * ``end``: ``completed``, ``failed``, ``partial`` or ``cancelled``
     -> ServiceOrderAttributeValueChangeEvent;
3. the order's final state derived from its items     -> ServiceOrderStateChangeEvent.

Every step waits the step delay (the plan's ``delay`` rule, else the global
``--step-delay``) before it is taken; a ``milestones`` rule's ``seconds``
replaces it for the milestones and the end of its items, a ``pause`` replaces
it for the step after its milestone (or the item's first step), and a held or
pending item resumes after its rule's ``seconds``.

Each step, the plan's progress counter and the step's events are stored in one
transaction, and the next step is derived from the stored order and plan, so
after a restart every non-terminal order resumes where it stopped.  ``silent``
orders never progress; ``duplicate_events`` orders have every event sent
twice; ``out_of_order`` orders have their events held and, once the order is
final, sent newest first; ``drop_events`` orders lose events on purpose
(stored as ``dropped``, never sent); ``order_level_only`` orders send events
without the ``serviceOrderItem`` list.

A cancellation (CancelServiceOrder) is decided when it is requested, all or
nothing: when every unfinished item may still be cancelled (none has reached
its point of no return), the order stops progressing at once and a thread
takes the request ``accepted`` -> ``inProgress`` -> ``done``, cancelling the
items and closing the order in the last step; otherwise the request ends
``terminatedWithError``, nothing is cancelled and the order goes on.
"""

import copy
import logging
import random
import threading
import time

from . import tmf
from .delivery import Dispatcher
from .rules import RuleBook, new_item_plan
from .store import Store

log = logging.getLogger("somsim.engine")

STAT_NAMES = ("serviceOrdersCreated", "postsReceived", "duplicatesRecognised",
              "rejected503", "eventsSent", "eventsDropped", "itemsReceived",
              "cancelServiceOrdersCreated")


def upgrade_plan(plan, order):
    """Fill in what a plan stored by an older simulator lacks (it knew only failures)."""
    if "items" not in plan:
        failures = plan.get("failures") or {}
        plan["items"] = {item["id"]: new_item_plan("failed" if item["id"] in failures else None,
                                                   failures.get(item["id"]))
                         for item in order["serviceOrderItem"]}
    plan.setdefault("progress", {})
    plan.setdefault("orderLevelOnly", False)
    plan.setdefault("drop", None)
    return plan


def item_script(item_plan):
    """The actions an item goes through after the order started, in order.

    Each action is a dict with ``do`` (``hold``, ``resume``, ``milestone``,
    ``end``) and ``after``: seconds to wait before it, None for the step delay.
    """
    actions = []
    interlude = item_plan.get("interlude")
    if interlude:
        actions.append({"do": "hold", "state": interlude["state"], "after": None})
        actions.append({"do": "resume", "after": interlude["seconds"]})
    milestones = item_plan.get("milestones") or []
    seconds = item_plan.get("milestoneSeconds")
    for name in milestones:
        actions.append({"do": "milestone", "name": name, "after": seconds})
    actions.append({"do": "end", "state": item_plan.get("end") or "completed",
                    "after": seconds if milestones else None})
    pause = item_plan.get("pause")
    if pause:
        if pause["milestone"] is None:
            actions[0]["after"] = pause["seconds"]
        else:
            for index, action in enumerate(actions[:-1]):
                if action["do"] == "milestone" and action["name"] == pause["milestone"]:
                    actions[index + 1]["after"] = pause["seconds"]
    return actions


def next_step(order, plan):
    """Return the next progression step ``(kind, item_id, action)``, or None.

    Kinds are ``start``, ``item`` (with the item's next script action) and ``finish``.
    """
    state = order["state"]
    if state == "acknowledged":
        return ("start", None, None)
    if state != "inProgress":
        return None
    for item in tmf.unfinished_items(order):
        script = item_script(plan["items"].get(item["id"]) or new_item_plan())
        position = min(plan["progress"].get(item["id"], 0), len(script) - 1)
        return ("item", item["id"], script[position])
    return ("finish", None, None)


class Simulator:
    """The SOM simulator: accepts orders and cancellations, progresses them, emits events."""

    def __init__(self, store: Store, rules: RuleBook, dispatcher: Dispatcher, step_delay):
        self.store = store
        self.rules = rules
        self.dispatcher = dispatcher
        self.step_delay = step_delay
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._generation = 0
        self._workers = set()

    # -- life cycle ------------------------------------------------------

    def start(self):
        """Deliver events left pending, resume unfinished orders and open cancellations."""
        for row in self.store.pending_events():
            self.dispatcher.send(row)
        for order_id in self.store.unfinished_order_ids():
            log.info("resuming service order %s", order_id)
            self._spawn(self._progress, order_id)
        for cancel_id in self.store.open_cancel_ids():
            log.info("resuming cancellation %s", cancel_id)
            self._spawn(self._cancel_progress, cancel_id)

    def stop(self, timeout=2.0):
        """Stop progressing and delivering; state stays in the store."""
        self._stop.set()
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout)
        self.dispatcher.stop(timeout)

    def reset(self):
        """Forget orders, cancellations, events, statistics, rule counters and rules."""
        with self._lock:
            self._generation += 1
            self.store.reset()
            self.rules.clear()
            self.dispatcher.clear()
        log.info("simulator reset")

    # -- API operations --------------------------------------------------

    def count_post(self, external_id=None):
        """Count a POST /serviceOrder, and per externalId when the body has one."""
        self.store.increment("postsReceived")
        if isinstance(external_id, str):
            self.store.count_post(external_id)

    def create_order(self, payload, base_url):
        """Accept a validated ServiceOrder_Create.

        Returns ``("created", order)``, ``("duplicate", order)`` or
        ``("unavailable", rule)`` for an injected 503.
        """
        with self._lock:
            probe = tmf.new_order(payload, base_url)
            rule = self.rules.take_http_503(probe)
            if rule is not None:
                self.store.increment("rejected503")
                return "unavailable", rule
            external_id = payload.get("externalId")
            if external_id is not None:
                existing = self.store.find_by_external_id(external_id)
                if existing is not None:
                    self.store.increment("duplicatesRecognised")
                    return "duplicate", existing
            plan = self.rules.plan(probe)
            self.store.insert_order(probe, plan, counters={
                "serviceOrdersCreated": 1, "itemsReceived": len(probe["serviceOrderItem"])})
            self._spawn(self._progress, probe["id"])
        log.info("service order %s created (externalId=%s, plan=%s)",
                 probe["id"], external_id, plan)
        if plan.get("slowAnswer"):
            # Created and progressing, but the 201 is late: the client may give up (or die) before it.
            time.sleep(plan["slowAnswer"])
        return "created", probe

    def create_cancel(self, payload, base_url):
        """Accept a validated CancelServiceOrder_Create.

        Returns ``("created", cancel)``, ``("existing", cancel)`` when the
        service order already has an open cancellation, or ``("not_found", None)``.
        """
        with self._lock:
            found = self.store.get_order_and_plan(payload["serviceOrder"]["id"])
            if found is None:
                return "not_found", None
            order, plan = found
            plan = upgrade_plan(plan, order)
            existing = self.store.open_cancel(order["id"])
            if existing is not None:
                return "existing", existing
            cancel = tmf.new_cancel(payload, base_url, order)
            decision = self._decide_cancel(order, plan)
            if decision["cancel"]:
                # From now on the order does not progress: the cancellation finishes it.
                plan["cancelling"] = cancel["id"]
                self.store.insert_cancel(cancel, decision, order, plan)
            else:
                self.store.insert_cancel(cancel, decision)
            self._spawn(self._cancel_progress, cancel["id"])
        log.info("cancellation %s of service order %s: %s", cancel["id"], order["id"],
                 "will cancel items %s" % ", ".join(decision["items"]) if decision["cancel"]
                 else "refused (%s)" % decision["message"])
        return "created", cancel

    def stats(self):
        counters = self.store.counters()
        stats = {name: counters.get(name, 0) for name in STAT_NAMES}
        stats["externalIds"] = self.store.external_id_counts()
        orders = self.store.order_accounting()
        stats["orders"] = orders
        stats["duplicatesCreated"] = sum(1 for entry in orders.values() if entry["created"] > 1)
        return stats

    # -- events ----------------------------------------------------------

    def _record(self, order, plan, events, cancel=None, save_order=True):
        """Store the order, its plan, a cancellation and their events in one
        transaction, then hand the events to deliver to the dispatcher."""
        copies = 2 if plan["duplicateEvents"] else 1
        first = self.store.event_count(order["id"])
        specs, dropped = [], 0
        for index, event in enumerate(events):
            if self._dropped(order, plan, first + index):
                status = "dropped"
                dropped += 1
                log.info("event %s %s order=%s dropped by rule %s", event["eventType"],
                         event["eventId"], order["id"], plan["drop"]["rule"])
            else:
                status = "held" if plan["outOfOrder"] else "pending"
            specs.append((event, order["id"], copies, status))
        rows = self.store.save(order=order if save_order else None,
                               plan=plan if save_order else None, cancel=cancel,
                               events=specs,
                               counters={"eventsDropped": dropped} if dropped else None)
        if plan["outOfOrder"] and order["state"] in tmf.TERMINAL_ORDER_STATES:
            rows = self.store.release_held(order["id"])
        for row in rows:
            self.dispatcher.send(row)

    @staticmethod
    def _dropped(order, plan, index):
        """Whether the order's event number ``index`` is lost (``drop_events``)."""
        drop = plan.get("drop")
        if not drop or drop["probability"] <= 0:
            return False
        if drop["seed"] is None:
            draw = random.random()
        else:
            key = "%s:%s:%d" % (drop["seed"], order.get("externalId") or order["id"], index)
            draw = random.Random(key).random()
        return draw < drop["probability"]

    @staticmethod
    def _order_event(event_type, order, plan):
        return tmf.make_event(event_type, copy.deepcopy(order),
                              order_level_only=plan["orderLevelOnly"])

    # -- progression -----------------------------------------------------

    def _spawn(self, target, resource_id):
        worker = threading.Thread(target=self._run, args=(target, resource_id, self._generation),
                                  name="somsim-%s" % resource_id[:8], daemon=True)
        with self._lock:
            self._workers.add(worker)
        worker.start()

    def _run(self, target, resource_id, generation):
        try:
            while target(resource_id, generation):
                pass
        except Exception:
            log.exception("progression of %s stopped", resource_id)
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())

    def _delay(self, plan):
        return self.step_delay if plan.get("stepDelay") is None else plan["stepDelay"]

    def _current(self, order_id, generation):
        """Return ``(order, plan, step)`` when there is a step to take, else None."""
        if generation != self._generation:
            return None
        found = self.store.get_order_and_plan(order_id)
        if found is None:
            return None
        order, plan = found
        plan = upgrade_plan(plan, order)
        if plan["silent"] or plan.get("cancelling"):
            return None
        step = next_step(order, plan)
        if step is None:
            return None
        return order, plan, step

    def _progress(self, order_id, generation):
        """Wait for the next step and take it; False when there is none."""
        with self._lock:
            current = self._current(order_id, generation)
        if current is None:
            return False
        order, plan, (kind, item_id, action) = current
        after = action["after"] if action is not None else None
        if self._stop.wait(self._delay(plan) if after is None else after):
            return False
        with self._lock:
            current = self._current(order_id, generation)
            if current is None:
                return False
            order, plan, step = current
            event_type = self._apply(order, plan, step)
            self._record(order, plan, [self._order_event(event_type, order, plan)])
        if step[0] == "item" and step[2]["do"] == "milestone":
            log.info("service order %s: item %s reached %s", order_id, step[1], step[2]["name"])
        elif step[0] == "item":
            states = {item["id"]: item["state"] for item in order["serviceOrderItem"]}
            log.info("service order %s: item %s %s", order_id, step[1], states[step[1]])
        else:
            log.info("service order %s: %s", order_id, order["state"])
        return True

    @staticmethod
    def _apply(order, plan, step):
        """Apply one step to the order and its plan; return the event type it produces."""
        kind, item_id, action = step
        now = tmf.utc_now()
        if kind == "start":
            tmf.start(order, now)
            return tmf.STATE_CHANGE_EVENT
        if kind == "finish":
            tmf.finish(order, now)
            return tmf.STATE_CHANGE_EVENT
        plan["progress"][item_id] = plan["progress"].get(item_id, 0) + 1
        do = action["do"]
        if do == "hold":
            tmf.set_item_state(order, item_id, action["state"])
        elif do == "resume":
            tmf.set_item_state(order, item_id, "inProgress")
        elif do == "milestone":
            tmf.reach_milestone(order, item_id, action["name"], now)
            return tmf.MILESTONE_EVENT
        else:
            tmf.end_item(order, item_id, action["state"], now,
                         (plan["items"].get(item_id) or {}).get("failure"))
        return tmf.ATTRIBUTE_VALUE_CHANGE_EVENT

    # -- cancellation ----------------------------------------------------

    @staticmethod
    def _decide_cancel(order, plan):
        """All or nothing: cancel every unfinished item, or none when one cannot be."""
        if order["state"] in tmf.TERMINAL_ORDER_STATES:
            return {"cancel": False, "items": [], "code": "SIM-CANCEL-TERMINAL",
                    "reason": "Service order already %s" % order["state"],
                    "message": "Service order %s is already %s; nothing was cancelled."
                               % (order["id"], order["state"])}
        unfinished = tmf.unfinished_items(order)
        if not unfinished:
            return {"cancel": False, "items": [], "code": "SIM-CANCEL-TERMINAL",
                    "reason": "Service order already completed",
                    "message": "Every item of service order %s is already finished;"
                               " nothing was cancelled." % order["id"]}
        blocked = []
        for item in unfinished:
            point = (plan["items"].get(item["id"]) or {}).get("pointOfNoReturn")
            if point and point in tmf.item_milestones(order, item["id"]):
                spec_id, spec_name = tmf.specification_of(item)
                blocked.append((item["id"], spec_name or spec_id, point))
        if blocked:
            return {"cancel": False, "items": [item_id for item_id, _, _ in blocked],
                    "code": "SIM-CANCEL-PONR", "reason": "Point of no return passed",
                    "message": "%s passed the point of no return; nothing was cancelled."
                               % "; ".join("item %s (%s, milestone %s)" % entry
                                           for entry in blocked)}
        return {"cancel": True, "items": [item["id"] for item in unfinished]}

    def _cancel_current(self, cancel_id, generation):
        """Return ``(cancel, decision, order, plan)`` while the request is open, else None."""
        if generation != self._generation:
            return None
        found = self.store.get_cancel_and_decision(cancel_id)
        if found is None or found[0]["state"] not in tmf.OPEN_CANCEL_STATES:
            return None
        cancel, decision = found
        order, plan = self.store.get_order_and_plan(cancel["serviceOrder"]["id"])
        return cancel, decision, order, upgrade_plan(plan, order)

    def _cancel_progress(self, cancel_id, generation):
        """Take a cancellation one step further; False when it has ended."""
        with self._lock:
            current = self._cancel_current(cancel_id, generation)
        if current is None:
            return False
        if self._stop.wait(self._delay(current[3])):
            return False
        with self._lock:
            current = self._cancel_current(cancel_id, generation)
            if current is None:
                return False
            cancel, decision, order, plan = current
            now = tmf.utc_now()
            correlation = order.get("externalId")
            if cancel["state"] == "accepted":
                cancel["state"] = "inProgress"
                self._record(order, plan, [tmf.make_cancel_event(copy.deepcopy(cancel),
                                                                 correlation, now)],
                             cancel=cancel, save_order=False)
            elif decision["cancel"]:
                events = []
                for item_id in decision["items"]:
                    tmf.end_item(order, item_id, "cancelled", now)
                    events.append(self._order_event(tmf.ATTRIBUTE_VALUE_CHANGE_EVENT, order, plan))
                tmf.finish_cancellation(order, cancel.get("cancellationReason"), now)
                events.append(self._order_event(tmf.STATE_CHANGE_EVENT, order, plan))
                cancel["state"] = "done"
                cancel["effectiveCancellationDate"] = now
                cancel["completionMessage"] = "Cancelled item(s) %s; service order %s." % (
                    ", ".join(decision["items"]), order["state"])
                events.append(tmf.make_cancel_event(copy.deepcopy(cancel), correlation, now))
                self._record(order, plan, events, cancel=cancel)
            else:
                cancel["state"] = "terminatedWithError"
                cancel["errorMessage"] = {"code": decision["code"], "reason": decision["reason"],
                                          "message": decision["message"], "@type": "ErrorMessage"}
                self._record(order, plan, [tmf.make_cancel_event(copy.deepcopy(cancel),
                                                                 correlation, now)],
                             cancel=cancel, save_order=False)
        log.info("cancellation %s: %s", cancel_id, cancel["state"])
        return True
