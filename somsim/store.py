"""The simulator's sqlite store.

Tables:

* ``service_order`` -- every accepted order as JSON, with its externalId
  (unique, so a resent order is recognised) and its progression plan;
* ``event``         -- an outbox of every event: ``held`` (waiting to be sent
  out of order), ``pending`` (to be delivered) or ``done``; ``send_seq`` gives
  the delivery order, so pending events are delivered again after a restart;
* ``hub``           -- TMF641 event subscriptions;
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

TERMINAL_STATES = ("completed", "failed", "partial")


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

    def insert_order(self, order, plan):
        with self._lock, self._db:
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
                "SELECT id FROM service_order WHERE state NOT IN (?, ?, ?) ORDER BY seq",
                TERMINAL_STATES).fetchall()
        return [row[0] for row in rows]

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

    def save_step(self, order, event, copies, held):
        """Store the order after a step together with its event, atomically.

        Returns the EventRow to deliver now, or None when the event is held.
        """
        body = json.dumps(event)
        with self._lock, self._db:
            self._db.execute("UPDATE service_order SET state = ?, body = ? WHERE id = ?",
                             (order["state"], json.dumps(order), order["id"]))
            send_seq = None if held else self._next_send_seq()
            cursor = self._db.execute(
                "INSERT INTO event (event_id, order_id, event_type, body, copies, status, send_seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event["eventId"], order["id"], event["eventType"], body, copies,
                 "held" if held else "pending", send_seq))
        if held:
            return None
        return EventRow(cursor.lastrowid, event["eventId"], order["id"], event["eventType"],
                        body, copies)

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
        """Forget orders, events and counters (hub subscriptions stay)."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM service_order")
            self._db.execute("DELETE FROM event")
            self._db.execute("DELETE FROM counter")
