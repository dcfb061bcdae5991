"""somsim: a small TMF641 v4 Service Order Management simulator.

It runs as its own process (``python -m somsim``), accepts service orders and
their cancellations over the TMF641 REST API, progresses them asynchronously
like a real SOM would, and reports every change as a signed TMF641 event to
the registered listeners.  Behaviour rules inject failures, outages, silence,
duplicated, reordered and lost events, milestones, pauses and points of no
return, so that the consumer's fulfilment flow can be exercised end to end.
Only the Python standard library is used.

Modules:

* ``__main__`` -- command line, configuration, signal handling.
* ``server``   -- HTTP routing and handlers (TMF641 API and ``/_sim`` control API).
* ``tmf``      -- TMF641 payload validation, order state transitions, event envelopes.
* ``rules``    -- behaviour rules (failure injection).
* ``engine``   -- order creation, cancellation and background progression.
* ``delivery`` -- signed event delivery with retries.
* ``store``    -- the sqlite store (orders, cancellations, events outbox, hubs, counters).
"""

# 2.0: events are signed ``t=<unix seconds>,sha256=<hex>`` (was ``sha256=<hex>``).
__version__ = "2.0.0"
