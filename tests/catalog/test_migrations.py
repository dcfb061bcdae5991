"""The migration that versions service specifications: rows that existed become version 1 of their code."""
import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("catalog", "0003_mutation_models")]
AFTER = [("catalog", "0004_service_specification_versions")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_existing_service_specifications_become_version_1_and_a_code_may_then_have_versions():
    old = _migrate(BEFORE)
    Old = old.get_model("catalog", "ServiceSpecification")
    internet = Old.objects.create(code="Internet-Access", name="Internet access line", max_retries=2)
    static_ip = Old.objects.create(code="Static-IP", name="Static IP addressing")
    static_ip.depends_on.set([internet])
    try:
        new = _migrate(AFTER)
        New = new.get_model("catalog", "ServiceSpecification")

        assert sorted(New.objects.values_list("code", "version", "max_retries")) == [
            ("Internet-Access", 1, 2), ("Static-IP", 1, 0)]
        assert [d.code for d in New.objects.get(code="Static-IP").depends_on.all()] == ["Internet-Access"]
        New.objects.create(code="Internet-Access", version=2, name="Internet access line")
        with pytest.raises(IntegrityError), transaction.atomic():
            New.objects.create(code="Internet-Access", version=2, name="twice")
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())  # every migration, as the other tests expect
