"""Signed event delivery with retries.

Every event goes to the default listener (``--callback``) and to each hub
subscription whose ``query`` accepts it (``eventType=A,B`` limits a
subscription to those event types; any other query accepts everything);
listener base URLs are de-duplicated.  Without ``--callback`` only the hub
subscriptions receive events; a deleted subscription receives nothing more,
not even the retries of an event already queued for it.  An event of type
``ServiceOrderStateChangeEvent`` is POSTed to
``<base>/serviceOrderStateChangeEvent`` (``ServiceOrderMilestoneEvent`` to
``<base>/serviceOrderMilestoneEvent``, and so on) with the headers
``Content-Type: application/json`` and
``X-Signature: t=<unix seconds>,sha256=<hex>`` where ``hex`` is the
HMAC-SHA256, keyed with the secret, of ``"<t>."`` followed by the raw body.
``t`` is the time of the delivery attempt: a retry is signed again.

Each listener base URL has its own worker thread and FIFO queue, so events
reach a listener in the order they were produced and a dead listener does not
hold up the others.  A connection error, a timeout or a non-2xx answer is
retried after 0.5, 1, 2, 4 and 8 seconds, then the event is logged and dropped
for that listener; a 4xx other than 408 and 429 is not retried.  When every
delivery of an event has ended, it is marked ``done`` in the outbox; events
still pending when the process stops are delivered after the next start.
"""

import hashlib
import hmac
import logging
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from . import tmf

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
REQUEST_TIMEOUT = 5.0

log = logging.getLogger("somsim.events")


def sign(secret, body, timestamp=None):
    """Return the X-Signature header value ``t=<unix seconds>,sha256=<hex>`` for raw body bytes.

    ``hex`` is HMAC-SHA256(secret, b"<t>." + body); ``timestamp`` defaults to now.
    """
    t = int(time.time()) if timestamp is None else int(timestamp)
    signed = ("%d." % t).encode("ascii") + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return "t=%d,sha256=%s" % (t, digest)


def accepts(query, event_type):
    """True when a hub subscription's query lets this event type through."""
    if not query:
        return True
    wanted = urllib.parse.parse_qs(query.replace(" ", "")).get("eventType")
    if not wanted:
        return True
    return event_type in {name for value in wanted for name in value.split(",")}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report redirects as non-2xx answers instead of following them."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


# Listeners are called directly: no proxies from the environment, no redirects.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class Dispatcher:
    """Delivers outbox events to the listeners, one worker thread per listener."""

    def __init__(self, store, secret, default_callback=None,
                 retry_delays=RETRY_DELAYS, timeout=REQUEST_TIMEOUT):
        self._store = store
        self._secret = secret
        self._default_callback = default_callback
        self._retry_delays = retry_delays
        self._timeout = timeout
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._queues = {}
        self._threads = []
        self._remaining = {}
        self._generation = 0

    def targets(self, event_type):
        """Listener base URLs for an event type, de-duplicated, default first."""
        bases = []
        if self._default_callback:
            bases.append(self._default_callback)
        bases += [hub["callback"] for hub in self._store.list_hubs()
                  if accepts(hub["query"], event_type)]
        unique = {}
        for base in bases:
            unique.setdefault(base.rstrip("/"), base)
        return list(unique.values())

    def _wanted(self, base, event_type):
        """True while a listener base URL still receives this event type."""
        wanted = base.rstrip("/")
        return any(target.rstrip("/") == wanted for target in self.targets(event_type))

    def send(self, row):
        """Queue an outbox event (``copies`` times) for every listener."""
        if self._stop.is_set():
            return
        bases = self.targets(row.event_type)
        if not bases:
            log.info("event %s %s order=%s: no listener", row.event_type, row.event_id,
                     row.order_id)
            self._store.mark_event_done(row.seq)
            return
        with self._lock:
            self._remaining[row.seq] = len(bases) * row.copies
            for base in bases:
                for _ in range(row.copies):
                    self._queue_for(base).put(row)

    def clear(self):
        """Drop everything queued and abandon retries (used by the simulator reset)."""
        with self._lock:
            self._generation += 1
            self._remaining.clear()
            for pending in self._queues.values():
                while True:
                    try:
                        pending.get_nowait()
                    except queue.Empty:
                        break

    def stop(self, timeout=2.0):
        """Stop the workers; undelivered events stay pending in the outbox."""
        self._stop.set()
        with self._lock:
            for pending in self._queues.values():
                pending.put(None)
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def _queue_for(self, base):
        pending = self._queues.get(base)
        if pending is None:
            pending = self._queues[base] = queue.Queue()
            thread = threading.Thread(target=self._work, args=(base, pending),
                                      name="somsim-deliver-%d" % len(self._threads), daemon=True)
            self._threads.append(thread)
            thread.start()
        return pending

    def _work(self, base, pending):
        while True:
            row = pending.get()
            if row is None or self._stop.is_set():
                return
            if self._deliver(base, row) is None:
                return
            with self._lock:
                left = self._remaining.get(row.seq)
                if left is None:
                    continue
                if left > 1:
                    self._remaining[row.seq] = left - 1
                    continue
                del self._remaining[row.seq]
            self._store.mark_event_done(row.seq)

    def _deliver(self, base, row):
        """Deliver one event to one listener.

        Returns True when delivered, False when dropped, None when stopped.
        """
        url = tmf.listener_url(base, row.event_type)
        body = row.body.encode("utf-8")
        attempts = len(self._retry_delays) + 1
        generation = self._generation
        for attempt in range(1, attempts + 1):
            if attempt > 1 and self._stop.wait(self._retry_delays[attempt - 2]):
                return None
            if generation != self._generation:
                log.info("event %s %s order=%s -> %s abandoned by reset",
                         row.event_type, row.event_id, row.order_id, url)
                return False
            if not self._wanted(base, row.event_type):
                log.info("event %s %s order=%s -> %s abandoned: no longer subscribed",
                         row.event_type, row.event_id, row.order_id, url)
                return False
            headers = {"Content-Type": "application/json",
                       "X-Signature": sign(self._secret, body)}
            status, problem = self._post(url, body, headers)
            if status is not None and 200 <= status < 300:
                self._store.increment("eventsSent")
                log.info("event %s %s order=%s -> %s %d", row.event_type, row.event_id,
                         row.order_id, url, status)
                return True
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                log.warning("event %s %s order=%s -> %s %d, not retried, dropped",
                            row.event_type, row.event_id, row.order_id, url, status)
                return False
            log.warning("event %s %s order=%s -> %s failed (%s), attempt %d of %d",
                        row.event_type, row.event_id, row.order_id, url, problem,
                        attempt, attempts)
        log.error("event %s %s order=%s -> %s dropped after %d attempts",
                  row.event_type, row.event_id, row.order_id, url, attempts)
        return False

    def _post(self, url, body, headers):
        """POST once; return ``(status or None, problem text)``."""
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with _opener.open(request, timeout=self._timeout) as response:
                response.read()
                return response.status, "HTTP %d" % response.status
        except urllib.error.HTTPError as error:
            error.close()
            return error.code, "HTTP %d" % error.code
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            return None, str(reason)
