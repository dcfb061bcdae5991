"""SQL queries one order costs through the pipeline, stage by stage (a benchmark, not a test).

    .venv/bin/python scripts/bench_queries.py [--orders N]

Runs on a throwaway SQLite database: the demo data, then N one-item SuperFibre orders each taken through
capture (the TMF622 API), the checks, decomposition and submission, SOM's acceptance and its events (the
simulator's own TMF641 functions, posted signed to the listener and applied as the worker would), to
completion with inventory and billing. Prints the queries of each stage for the last order (the first pays
for cold caches) and the total.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=3)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="com-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comapp.settings")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from orders.services.channels import create_channel
    from orders.services.checks import run_order_checks
    from tests.orders.flows import Som, service_orders, superfibre

    call_command("migrate", verbosity=0)
    call_command("load_demo", verbosity=0)
    _, token = create_channel(name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    som = Som()
    stages = {}
    for n in range(args.orders):
        stages = {}
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/tmf-api/productOrderingManagement/v4/productOrder",
                                   superfibre(f"bench-{n}", customer="CUST-3003", place="ADDR-3003",
                                              wifiManagement=False), format="json")
        assert response.status_code == 201, response.content
        stages["capture (POST productOrder)"] = len(queries)
        order_id = response.json()["id"]
        with CaptureQueriesContext(connection) as queries:
            run_order_checks(order_id=order_id)
        stages["checks, decomposition, submission"] = len(queries)
        from orders.models import ProductOrder

        order = ProductOrder.objects.get(pk=order_id)
        [service_order] = service_orders(order)
        with CaptureQueriesContext(connection) as queries:
            som.accept(service_order)
        stages["SOM's 201 recorded"] = len(queries)
        with CaptureQueriesContext(connection) as queries:
            order = som.fulfil(order)
        stages["SOM's events applied, inventory, billing"] = len(queries)
        assert order.state == "completed", order.state
    width = max(len(k) for k in stages)
    for stage, count in stages.items():
        print(f"{stage:<{width}}  {count:4d}")
    print(f"{'total for one 1-item order':<{width}}  {sum(stages.values()):4d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
