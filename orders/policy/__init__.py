"""The mutation policy matrix: mutation kind x order state x execution point -> decision. Data, not code.

``mutation_policy.json`` beside this file is the matrix, reviewed like code and shown in the admin. ``decide``
returns the first row that matches; a final catch-all row refuses anything no row allows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from orders.models import TERMINAL_ORDER_STATES

POLICY_FILE = Path(__file__).with_name("mutation_policy.json")
EXECUTION_POINTS = ("none", "notStarted", "inFlight", "pastPointOfNoReturn", "completed")
DECISIONS = ("apply", "approval", "refuse")


@dataclass(frozen=True)
class PolicyRow:
    id: str
    kind: str
    order_states: tuple[str, ...]
    execution_points: tuple[str, ...]
    decision: str
    reason: str
    compensation: bool = False

    def matches(self, kind: str, order_state: str, execution_point: str) -> bool:
        state = "terminal" if order_state in TERMINAL_ORDER_STATES else order_state
        return (self.kind in ("*", kind) and ("*" in self.order_states or state in self.order_states)
                and ("*" in self.execution_points or execution_point in self.execution_points))


@lru_cache
def rows() -> tuple[PolicyRow, ...]:
    data = json.loads(POLICY_FILE.read_text())
    result = []
    for raw in data["rows"]:
        row = PolicyRow(id=raw["id"], kind=raw["kind"], order_states=tuple(raw["orderStates"]),
                        execution_points=tuple(raw["executionPoints"]), decision=raw["decision"],
                        reason=raw["reason"], compensation=bool(raw.get("compensation", False)))
        if row.decision not in DECISIONS or not set(row.execution_points) <= {*EXECUTION_POINTS, "*"}:
            raise ValueError(f"policy row {row.id} is malformed")
        result.append(row)
    return tuple(result)


def decide(kind: str, order_state: str, execution_point: str) -> PolicyRow:
    """The row that decides a mutation of this kind on an order in this state at this execution point."""
    for row in rows():
        if row.matches(kind, order_state, execution_point):
            return row
    raise LookupError("the policy has no catch-all row")  # the file ends with one: a test checks it
