"""Every transition of every state machine, from every state: allowed ones land where TMF says, the
others are refused. The expected tables are written out here, independently of the models."""
import pytest
from django_fsm import TransitionNotAllowed, can_proceed

from inventory.models import Product, ProductStatus
from orders.models import (
    ItemState,
    OrderState,
    ProductOrder,
    ProductOrderItem,
    ServiceOrder,
    ServiceOrderItem,
    SomState,
)

CANCELLABLE = {"acknowledged", "pending", "held", "inProgress"}

ORDER_TRANSITIONS = {
    # transition: ({allowed sources}, target)
    "reject": ({"acknowledged", "held"}, "rejected"),
    "hold": ({"acknowledged", "inProgress", "pending"}, "held"),
    "start": ({"acknowledged"}, "inProgress"),
    "resume": ({"held", "pending"}, "inProgress"),
    "defer": ({"acknowledged", "inProgress"}, "pending"),
    "complete": ({"inProgress"}, "completed"),
    "complete_partially": ({"inProgress"}, "partial"),
    "fail": ({"inProgress"}, "failed"),
    "assess_cancellation": (CANCELLABLE, "assessingCancellation"),
    "accept_cancellation": ({"assessingCancellation"}, "pendingCancellation"),
    "cancel": ({"pendingCancellation"}, "cancelled"),
}
ITEM_TRANSITIONS = {
    "reject": ({"acknowledged", "held"}, "rejected"),
    "hold": ({"acknowledged", "inProgress", "pending"}, "held"),
    "start": ({"acknowledged"}, "inProgress"),
    "resume": ({"held", "pending"}, "inProgress"),
    "defer": ({"acknowledged", "inProgress"}, "pending"),
    "complete": ({"inProgress"}, "completed"),
    "fail": ({"inProgress", "held"}, "failed"),
    "assess_cancellation": (CANCELLABLE, "assessingCancellation"),
    "accept_cancellation": ({"assessingCancellation"}, "pendingCancellation"),
    "cancel": ({"pendingCancellation"}, "cancelled"),
}
WORKING = {"pending", "held", "inProgress", "assessingCancellation", "pendingCancellation"}
LIVE = {"planned", "acknowledged"} | WORKING
SERVICE_ORDER_TRANSITIONS = {
    "acknowledge": ({"planned"}, "acknowledged"),
    "reject": (LIVE, "rejected"),
    "start": (LIVE, "inProgress"),
    "hold": (LIVE, "held"),
    "defer": (LIVE, "pending"),
    "assess_cancellation": ({"acknowledged", "pending", "held", "inProgress", "pendingCancellation"},
                            "assessingCancellation"),
    "accept_cancellation": ({"acknowledged", "pending", "held", "inProgress", "assessingCancellation"},
                            "pendingCancellation"),
    "complete": (LIVE, "completed"),
    "fail": (LIVE, "failed"),
    "complete_partially": (LIVE, "partial"),
    "cancel": (LIVE, "cancelled"),
}
SERVICE_ITEM_TRANSITIONS = {
    **SERVICE_ORDER_TRANSITIONS,
    "replan": ({"failed", "rejected", "partial", "cancelled"}, "planned"),
    "complete_by_hand": (LIVE | {"failed", "rejected", "partial", "cancelled"}, "completed"),
}
PRODUCT_TRANSITIONS = {
    "activate": ({"created", "pendingActive"}, "active"),
    "await_activation": ({"created"}, "pendingActive"),
    "suspend": ({"active"}, "suspended"),
    "reactivate": ({"suspended"}, "active"),
    "begin_termination": ({"active"}, "pendingTerminate"),
    "terminate": ({"active", "suspended", "pendingTerminate", "pendingActive"}, "terminated"),
    "abort": ({"created", "pendingActive"}, "aborted"),
}

MACHINES = [
    (ProductOrder, "state", OrderState.values, ORDER_TRANSITIONS),
    (ProductOrderItem, "state", ItemState.values, ITEM_TRANSITIONS),
    (ServiceOrder, "state", SomState.values, SERVICE_ORDER_TRANSITIONS),
    (ServiceOrderItem, "state", SomState.values, SERVICE_ITEM_TRANSITIONS),
    (Product, "status", ProductStatus.values, PRODUCT_TRANSITIONS),
]
CASES = [
    pytest.param(model, field, state, name, sources, target, id=f"{model.__name__}.{name}-from-{state}")
    for model, field, states, table in MACHINES
    for name, (sources, target) in table.items()
    for state in states
]


@pytest.mark.parametrize("model,field,state,name,sources,target", CASES)
def test_transition_from_every_state(model, field, state, name, sources, target):
    obj = model(**{field: state})
    method = getattr(obj, name)
    if state in sources:
        assert can_proceed(method)
        method()
        assert getattr(obj, field) == target
    else:
        assert not can_proceed(method)
        with pytest.raises(TransitionNotAllowed):
            method()
        assert getattr(obj, field) == state


@pytest.mark.parametrize("back_to", sorted(CANCELLABLE))
def test_refused_cancellation_goes_back_where_it_was(back_to):
    for model in (ProductOrder, ProductOrderItem):
        obj = model(state="assessingCancellation")
        obj.refuse_cancellation(back_to)
        assert obj.state == back_to


@pytest.mark.parametrize("model,field,states,table", [pytest.param(*m, id=m[0].__name__) for m in MACHINES])
def test_no_transition_exists_beyond_the_table(model, field, states, table):
    declared = {t.name for t in getattr(model, f"get_all_{field}_transitions")(model())}
    assert declared - {"refuse_cancellation"} == set(table)


@pytest.mark.parametrize("model,field", [(ProductOrder, "state"), (ServiceOrderItem, "state"), (Product, "status")])
def test_state_cannot_be_assigned(model, field):
    obj = model()
    with pytest.raises(AttributeError):
        setattr(obj, field, "completed")


def test_terminal_order_states_have_no_way_out():
    for state in ("rejected", "cancelled", "completed", "failed", "partial"):
        order = ProductOrder(state=state)
        assert list(order.get_available_state_transitions()) == []
