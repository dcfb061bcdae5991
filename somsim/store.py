"""The simulator's sqlite store.

Tables:

* ``service_order`` -- every accepted order as JSON, with its externalId
  (unique, so a resent order is recognised) and its progression plan;
* ``cancel_order``  -- every CancelServiceOrder as JSON, with its service
  order and the simulator's decision (``decision``: whether it will cancel);
* ``event``         -- an outbox of every event: ``held`` (waiting to be sent
  out of order), ``pending`` (to be delivered), ``done`` or ``dropped`` (lost
  on purpose by a ``drop_events`` rule, never sent); ``send_seq`` gives the
  delivery order, so pending events are delivered again after a restart;
* ``hub``           -- TMF641 event subscriptions;
* ``external_post`` -- how many ``POST /serviceOrder`` carried each externalId;
* ``counter``       -- the statistics counters.

One connection is shared by all threads and guarded by a lock; every write is
committed before the method returns.
"""

import json
import sqlite3
import threading

SCHEMA = """
CREATE TABLE IF NOT EXISTS service_order (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    external_id TEXT UNIQUE,
    state TEXT NOT NULL,
    plan TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cancel_order (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL,
    state TEXT NOT NULL,
    decision TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cancel_order_order ON cancel_order (order_id, state);
CREATE TABLE IF NOT EXISTS external_post (
    external_id TEXT PRIMARY KEY,
    posts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS event (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body TEXT NOT NULL,
    copies INTEGER NOT NULL,
    status TEXT NOT NULL,
    send_seq INTEGER
);
CREATE INDEX IF NOT EXISTS event_order ON event (order_id, status);
CREATE TABLE IF NOT EXISTS hub (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    callback TEXT NOT NULL,
    query TEXT
);
CREATE TABLE IF NOT EXISTS counter (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

TERMINAL_STATES = ("completed", "failed", "partial", "cancelled")
OPEN_CANCEL_STATES = ("accepted", "inProgress")


class EventRow:
    """One event of the outbox, as handed to the dispatcher."""

    __slots__ = ("seq", "event_id", "order_id", "event_type", "body", "copies")

    def __init__(self, seq, event_id, order_id, event_type, body, copies):
        self.seq = seq
        self.event_id = event_id
        self.order_id = order_id
        self.event_type = event_type
        self.body = body
        self.copies = copies


class Store:
    """Persistence of orders, events, hub subscriptions and counters."""

    def __init__(self, path):
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)
        self._db.commit()

    def close(self):
        with self._lock:
            self._db.close()

    # -- service orders -------------------------------------------------

    def find_by_external_id(self, external_id):
        """Return the order stored with this externalId, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM service_order WHERE external_id = ?", (external_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def insert_order(self, order, plan, counters=None):
        with self._lock, self._db:
            for name, amount in (counters or {}).items():
                self._increment(name, amount)
            self._db.execute(
                "INSERT INTO service_order (id, external_id, state, plan, body)"
                " VALUES (?, ?, ?, ?, ?)",
                (order["id"], order.get("externalId"), order["state"],
                 json.dumps(plan), json.dumps(order)))

    def get_order(self, order_id):
        found = self.get_order_and_plan(order_id)
        return found[0] if found else None

    def get_order_and_plan(self, order_id):
        """Return ``(order, plan)`` or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT body, plan FROM service_order WHERE id = ?", (order_id,)).fetchone()
        return (json.loads(row[0]), json.loads(row[1])) if row else None

    def list_orders(self, external_id=None):
        with self._lock:
            if external_id is None:
                rows = self._db.execute("SELECT body FROM service_order ORDER BY seq").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT body FROM service_order WHERE external_id = ? ORDER BY seq",
                    (external_id,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def unfinished_order_ids(self):
        """Ids of the orders not yet in a terminal state, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM service_order WHERE state NOT IN (?, ?, ?, ?) ORDER BY seq",
                TERMINAL_STATES).fetchall()
        return [row[0] for row in rows]

    def count_post(self, external_id):
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO external_post (external_id, posts) VALUES (?, 1)"
                " ON CONFLICT (external_id) DO UPDATE SET posts = posts + 1", (external_id,))

    def order_accounting(self):
        """``{externalId: {"posts": n, "created": n}}`` for every externalId seen."""
        with self._lock:
            posts = self._db.execute(
                "SELECT external_id, posts FROM external_post ORDER BY rowid").fetchall()
            created = self.external_id_counts()
        accounting = {external_id: {"posts": count, "created": created.get(external_id, 0)}
                      for external_id, count in posts}
        for external_id, count in created.items():
            accounting.setdefault(external_id, {"posts": 0, "created": count})
        return accounting

    def external_id_counts(self):
        with self._lock:
            rows = self._db.execute(
                "SELECT external_id, COUNT(*) FROM service_order"
                " WHERE external_id IS NOT NULL GROUP BY external_id ORDER BY MIN(seq)").fetchall()
        return {external_id: count for external_id, count in rows}

    # -- progression steps and the event outbox --------------------------

    def _next_send_seq(self):
        row = self._db.execute("SELECT COALESCE(MAX(send_seq), 0) + 1 FROM event").fetchone()
        return row[0]

    def save(self, order=None, plan=None, cancel=None, events=(), counters=None):
        """Store an order (and its plan), a cancellation and their events, atomically.

        ``events`` are ``(event, order_id, copies, status)`` with status
        ``pending``, ``held`` or ``dropped``; ``counters`` ``{name: amount}`` are
        added in the same transaction.  Returns the EventRows to deliver now.
        """
        rows = []
        with self._lock, self._db:
            for name, amount in (counters or {}).items():
                self._increment(name, amount)
            if order is not None:
                if plan is None:
                    self._db.execute("UPDATE service_order SET state = ?, body = ? WHERE id = ?",
                                     (order["state"], json.dumps(order), order["id"]))
                else:
                    self._db.execute(
                        "UPDATE service_order SET state = ?, body = ?, plan = ? WHERE id = ?",
                        (order["state"], json.dumps(order), json.dumps(plan), order["id"]))
            if cancel is not None:
                self._db.execute("UPDATE cancel_order SET state = ?, body = ? WHERE id = ?",
                                 (cancel["state"], json.dumps(cancel), cancel["id"]))
            for event, order_id, copies, status in events:
                body = json.dumps(event)
                send_seq = self._next_send_seq() if status == "pending" else None
                cursor = self._db.execute(
                    "INSERT INTO event (event_id, order_id, event_type, body, copies, status,"
                    " send_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (event["eventId"], order_id, event["eventType"], body, copies, status,
                     send_seq))
                if status == "pending":
                    rows.append(EventRow(cursor.lastrowid, event["eventId"], order_id,
                                         event["eventType"], body, copies))
        return rows

    def event_count(self, order_id):
        """How many events (of any status) an order has produced."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM event WHERE order_id = ?",
                                    (order_id,)).fetchone()[0]

    def release_held(self, order_id):
        """Turn an order's held events into pending ones, newest first; return them."""
        with self._lock, self._db:
            rows = self._db.execute(
                "SELECT seq, event_id, order_id, event_type, body, copies FROM event"
                " WHERE order_id = ? AND status = 'held' ORDER BY seq DESC", (order_id,)).fetchall()
            for row in rows:
                self._db.execute("UPDATE event SET status = 'pending', send_seq = ? WHERE seq = ?",
                                 (self._next_send_seq(), row[0]))
        return [EventRow(*row) for row in rows]

    def pending_events(self):
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, order_id, event_type, body, copies FROM event"
                " WHERE status = 'pending' ORDER BY send_seq").fetchall()
        return [EventRow(*row) for row in rows]

    def mark_event_done(self, seq):
        with self._lock, self._db:
            self._db.execute("UPDATE event SET status = 'done' WHERE seq = ?", (seq,))

    # -- cancellation requests ------------------------------------------

    def insert_cancel(self, cancel, decision, order=None, plan=None):
        """Store a new cancellation (and, when given, its order's new plan) atomically."""
        with self._lock, self._db:
            self._increment("cancelServiceOrdersCreated", 1)
            if order is not None:
                self._db.execute("UPDATE service_order SET plan = ? WHERE id = ?",
                                 (json.dumps(plan), order["id"]))
            self._db.execute(
                "INSERT INTO cancel_order (id, order_id, state, decision, body)"
                " VALUES (?, ?, ?, ?, ?)",
                (cancel["id"], cancel["serviceOrder"]["id"], cancel["state"],
                 json.dumps(decision), json.dumps(cancel)))

    def get_cancel(self, cancel_id):
        found = self.get_cancel_and_decision(cancel_id)
        return found[0] if found else None

    def get_cancel_and_decision(self, cancel_id):
        """Return ``(cancel, decision)`` or None."""
        with self._lock:
            row = self._db.execute("SELECT body, decision FROM cancel_order WHERE id = ?",
                                   (cancel_id,)).fetchone()
        return (json.loads(row[0]), json.loads(row[1])) if row else None

    def open_cancel(self, order_id):
        """The open (accepted or inProgress) cancellation of an order, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM cancel_order WHERE order_id = ? AND state IN (?, ?)"
                " ORDER BY seq LIMIT 1", (order_id,) + OPEN_CANCEL_STATES).fetchone()
        return json.loads(row[0]) if row else None

    def open_cancel_ids(self):
        with self._lock:
            rows = self._db.execute("SELECT id FROM cancel_order WHERE state IN (?, ?)"
                                    " ORDER BY seq", OPEN_CANCEL_STATES).fetchall()
        return [row[0] for row in rows]

    def list_cancels(self, order_id=None, state=None):
        query, params = "SELECT body FROM cancel_order WHERE 1 = 1", []
        if order_id is not None:
            query += " AND order_id = ?"
            params.append(order_id)
        if state is not None:
            query += " AND state = ?"
            params.append(state)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", params).fetchall()
        return [json.loads(row[0]) for row in rows]

    # -- hub subscriptions -----------------------------------------------

    def add_hub(self, hub):
        with self._lock, self._db:
            self._db.execute("INSERT INTO hub (id, callback, query) VALUES (?, ?, ?)",
                             (hub["id"], hub["callback"], hub.get("query")))

    def delete_hub(self, hub_id):
        """Delete a subscription; return False when it did not exist."""
        with self._lock, self._db:
            cursor = self._db.execute("DELETE FROM hub WHERE id = ?", (hub_id,))
        return cursor.rowcount > 0

    def list_hubs(self):
        with self._lock:
            rows = self._db.execute("SELECT id, callback, query FROM hub ORDER BY seq").fetchall()
        return [{"id": row[0], "callback": row[1], "query": row[2]} for row in rows]

    # -- counters --------------------------------------------------------

    def increment(self, name, amount=1):
        with self._lock, self._db:
            self._increment(name, amount)

    def _increment(self, name, amount):
        self._db.execute(
            "INSERT INTO counter (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
            (name, amount))

    def counters(self):
        with self._lock:
            rows = self._db.execute("SELECT name, value FROM counter").fetchall()
        return dict(rows)

    # -- reset -----------------------------------------------------------

    def reset(self):
        """Forget orders, cancellations, events and counters (hub subscriptions stay)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM service_order")
            self._db.execute("DELETE FROM cancel_order")
            self._db.execute("DELETE FROM external_post")
            self._db.execute("DELETE FROM event")
            self._db.execute("DELETE FROM counter")
