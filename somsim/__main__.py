"""Command line entry point: ``python -m somsim``.

Every option falls back to an environment variable; the step delay is taken
from ``--step-delay``, else ``SOMSIM_STEP_DELAY``, else the config file's
``stepDelay``, else 0.5 seconds.  The config file (``--config``) is JSON:
``{"rules": [...], "stepDelay": 0.5}``.

The server runs until SIGTERM or SIGINT, then stops cleanly: no new requests,
progression and delivery threads stopped, the store closed.  Unfinished
orders and undelivered events are picked up again by the next start.
"""

import argparse
import json
import logging
import os
import signal
import sys
import threading

from .delivery import Dispatcher
from .engine import Simulator
from .rules import RuleBook, RuleError
from .server import SimServer
from .store import Store

DEFAULT_STEP_DELAY = 0.5
DEFAULT_SECRET = "somsim-demo-secret"

log = logging.getLogger("somsim")


def build_parser():
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m somsim",
        description="TMF641 v4 Service Order Management simulator.")
    parser.add_argument("--host", default=env("SOMSIM_HOST", "127.0.0.1"),
                        help="address to listen on (SOMSIM_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=env("SOMSIM_PORT", "8100"),
                        help="port to listen on, 0 for any free port (SOMSIM_PORT, default 8100)")
    parser.add_argument("--db", default=env("SOMSIM_DB", "somsim.sqlite3"),
                        help="sqlite file (SOMSIM_DB, default ./somsim.sqlite3)")
    parser.add_argument("--callback", default=env("SOMSIM_CALLBACK_URL") or None,
                        help="listener base URL that always receives events (SOMSIM_CALLBACK_URL);"
                             " without it only hub subscriptions (POST /hub) receive events")
    parser.add_argument("--secret", default=env("SOM_EVENT_SECRET", DEFAULT_SECRET),
                        help="HMAC-SHA256 key for the X-Signature header (SOM_EVENT_SECRET)")
    parser.add_argument("--config", default=env("SOMSIM_CONFIG") or None,
                        help='JSON file {"rules": [...], "stepDelay": 0.5} (SOMSIM_CONFIG)')
    parser.add_argument("--step-delay", type=float, default=None,
                        help="seconds between progression steps (SOMSIM_STEP_DELAY, default 0.5)")
    return parser


def load_config(parser, path):
    """Read and check the config file; exit with a usage error when it is wrong."""
    if not path:
        return {"rules": [], "stepDelay": None}
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
    except (OSError, ValueError) as error:
        parser.error("cannot read config %s: %s" % (path, error))
    if not isinstance(config, dict) or not isinstance(config.get("rules", []), list):
        parser.error('config %s must be {"rules": [...], "stepDelay": seconds}' % path)
    step_delay = config.get("stepDelay")
    if step_delay is not None and (isinstance(step_delay, bool)
                                   or not isinstance(step_delay, (int, float)) or step_delay < 0):
        parser.error("config %s: stepDelay must be a number >= 0" % path)
    return {"rules": config.get("rules", []), "stepDelay": step_delay}


def resolve_step_delay(parser, args, config):
    if args.step_delay is not None:
        value = args.step_delay
    elif os.environ.get("SOMSIM_STEP_DELAY"):
        try:
            value = float(os.environ["SOMSIM_STEP_DELAY"])
        except ValueError:
            parser.error("SOMSIM_STEP_DELAY must be a number")
    elif config["stepDelay"] is not None:
        value = float(config["stepDelay"])
    else:
        value = DEFAULT_STEP_DELAY
    if value < 0:
        parser.error("the step delay must be >= 0")
    return value


def main(argv=None):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    config = load_config(parser, args.config)
    step_delay = resolve_step_delay(parser, args, config)
    try:
        rules = RuleBook(config["rules"])
    except RuleError as error:
        parser.error("config %s: %s" % (args.config, error))

    store = Store(args.db)
    dispatcher = Dispatcher(store, args.secret, args.callback)
    simulator = Simulator(store, rules, dispatcher, step_delay)
    try:
        server = SimServer((args.host, args.port), simulator)
    except OSError as error:
        store.close()
        log.error("cannot listen on %s:%s: %s", args.host, args.port, error)
        return 1

    stopping = threading.Event()

    def request_stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    simulator.start()
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                               name="somsim-http", daemon=True)
    serving.start()
    host, port = server.server_address[:2]
    log.info("db=%s callback=%s step delay=%ss rules=%d", args.db, args.callback,
             step_delay, len(rules.list()))
    print("somsim listening on http://%s:%d" % (host, port), flush=True)

    while not stopping.wait(0.2):
        pass
    log.info("stopping")
    server.shutdown()
    server.server_close()
    simulator.stop()
    store.close()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
