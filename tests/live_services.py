"""What the end-to-end and fault tests need beside the code: PostgreSQL and Redis, named by the environment.

Without them those tests are skipped with the reason; with ``COM_REQUIRE_E2E`` set (CI) their absence is an
error, so CI can never pass by skipping them.
"""
import os

import pytest

MISSING = []
if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
    MISSING.append("DATABASE_URL pointing at PostgreSQL")
if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
    MISSING.append("CELERY_BROKER_URL pointing at Redis")


def skip_unless_available(items, folder: str, what: str) -> None:
    """Mark the collected tests under ``folder`` skipped (or stop the run under COM_REQUIRE_E2E)."""
    if not MISSING:
        return
    if os.environ.get("COM_REQUIRE_E2E"):
        raise pytest.UsageError("COM_REQUIRE_E2E is set but " + " and ".join(MISSING) + " are missing")
    skip = pytest.mark.skip(reason=f"{what} need " + " and ".join(MISSING)
                            + " (run them with `make test-e2e`, which is .ci/run)")
    for item in items:
        if folder in str(item.fspath):
            item.add_marker(skip)
