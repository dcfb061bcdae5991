"""The migration that gives customer profiles a history: existing profiles start it with their values now."""
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("orders", "0013_mutation_state_words")]
AFTER = [("orders", "0014_customer_profile_history")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_customer_profiles_start_their_history_with_their_values():
    old = _migrate(BEFORE)
    old.get_model("orders", "CustomerProfile").objects.create(party_id="CUST-9", name="Nine",
                                                              credit_limit=Decimal("750.00"))
    try:
        new = _migrate(AFTER)
        [first] = new.get_model("orders", "HistoricalCustomerProfile").objects.all()

        assert (first.party_id, first.credit_limit, first.history_type) == ("CUST-9", Decimal("750.00"), "+")
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # every migration, as the other tests expect
