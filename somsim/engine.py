"""Order creation and the asynchronous progression of service orders.

A new order is acknowledged, its *plan* is decided by the behaviour rules and
stored with it, and a background thread progresses it one step every step
delay (the plan's ``delay`` rule or the global ``--step-delay``):

1. order and every item ``inProgress``         -> ServiceOrderStateChangeEvent;
2. each item, by item id, ``completed`` or ``failed`` -> one
   ServiceOrderAttributeValueChangeEvent per item;
3. the order ``completed``, ``failed`` or ``partial`` -> ServiceOrderStateChangeEvent.

Each step and its event are stored in one transaction, and the next step is
derived from the stored order, so after a restart every non-terminal order
resumes where it stopped.  ``silent`` orders never progress;
``duplicate_events`` orders have every event sent twice; ``out_of_order``
orders have their events held and, after the final step, sent newest first.
"""

import logging
import threading

from . import tmf
from .delivery import Dispatcher
from .rules import RuleBook
from .store import Store

log = logging.getLogger("somsim.engine")

STAT_NAMES = ("serviceOrdersCreated", "postsReceived", "duplicatesRecognised",
              "rejected503", "eventsSent")


class Simulator:
    """The SOM simulator: accepts orders, progresses them, emits events."""

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
        """Deliver events left pending and resume unfinished orders."""
        for row in self.store.pending_events():
            self.dispatcher.send(row)
        for order_id in self.store.unfinished_order_ids():
            log.info("resuming service order %s", order_id)
            self._spawn(order_id)

    def stop(self, timeout=2.0):
        """Stop progressing and delivering; state stays in the store."""
        self._stop.set()
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout)
        self.dispatcher.stop(timeout)

    def reset(self):
        """Forget orders, events, statistics, rule counters and rules."""
        with self._lock:
            self._generation += 1
            self.store.reset()
            self.rules.clear()
            self.dispatcher.clear()
        log.info("simulator reset")

    # -- API operations --------------------------------------------------

    def count_post(self):
        self.store.increment("postsReceived")

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
            self.store.insert_order(probe, plan)
            self.store.increment("serviceOrdersCreated")
            self._spawn(probe["id"])
        log.info("service order %s created (externalId=%s, plan=%s)",
                 probe["id"], external_id, plan)
        return "created", probe

    def stats(self):
        counters = self.store.counters()
        stats = {name: counters.get(name, 0) for name in STAT_NAMES}
        stats["externalIds"] = self.store.external_id_counts()
        return stats

    # -- progression -----------------------------------------------------

    def _spawn(self, order_id):
        worker = threading.Thread(target=self._progress, args=(order_id, self._generation),
                                  name="somsim-order-%s" % order_id[:8], daemon=True)
        with self._lock:
            self._workers.add(worker)
        worker.start()

    def _progress(self, order_id, generation):
        try:
            while self._advance(order_id, generation):
                pass
        except Exception:
            log.exception("progression of service order %s stopped", order_id)
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())

    def _current(self, order_id, generation):
        """Return ``(order, plan, step)`` when there is a step to take, else None."""
        if generation != self._generation:
            return None
        found = self.store.get_order_and_plan(order_id)
        if found is None:
            return None
        order, plan = found
        step = tmf.next_step(order)
        if step is None or plan["silent"]:
            return None
        return order, plan, step

    def _advance(self, order_id, generation):
        """Wait one step delay and take the next step; False when there is none."""
        with self._lock:
            current = self._current(order_id, generation)
        if current is None:
            return False
        delay = current[1]["stepDelay"]
        if self._stop.wait(self.step_delay if delay is None else delay):
            return False
        with self._lock:
            current = self._current(order_id, generation)
            if current is None:
                return False
            order, plan, step = current
            event_type = self._apply(order, plan, step)
            event = tmf.make_event(event_type, order)
            copies = 2 if plan["duplicateEvents"] else 1
            row = self.store.save_step(order, event, copies, held=plan["outOfOrder"])
            rows = [row] if row is not None else []
            if plan["outOfOrder"] and order["state"] in tmf.TERMINAL_ORDER_STATES:
                rows = self.store.release_held(order_id)
            for row in rows:
                self.dispatcher.send(row)
        if step[0] == "item":
            states = {item["id"]: item["state"] for item in order["serviceOrderItem"]}
            log.info("service order %s: item %s %s", order_id, step[1], states[step[1]])
        else:
            log.info("service order %s: %s", order_id, order["state"])
        return True

    @staticmethod
    def _apply(order, plan, step):
        """Apply one step to the order; return the event type it produces."""
        kind, item_id = step
        now = tmf.utc_now()
        if kind == "start":
            tmf.start(order, now)
            return tmf.STATE_CHANGE_EVENT
        if kind == "item":
            failure = plan["failures"].get(item_id)
            if failure:
                tmf.fail_item(order, item_id, failure["reason"], failure["message"], now)
            else:
                tmf.complete_item(order, item_id)
            return tmf.ATTRIBUTE_VALUE_CHANGE_EVENT
        tmf.finish(order, now)
        return tmf.STATE_CHANGE_EVENT
