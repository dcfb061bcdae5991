"""Order domain models; each module's docstring draws its state machine or explains its records."""
from .billing import BillingIntent
from .channel import Channel, HubSubscription, hash_token
from .checks import CheckOutcome, CheckRun, OrderCheckResult
from .fallout import Fallout, FalloutCategory, FalloutStage, ProcessingError
from .fulfilment import (
    LIVE_SOM_STATES,
    SOM_STATE_RANK,
    TERMINAL_SOM_STATES,
    DecompositionPlan,
    ServiceOrder,
    ServiceOrderItem,
    SomState,
    SomSubscription,
)
from .inbound import InboundEvent
from .mutation import (
    OPEN_MUTATION_STATES,
    CancellationState,
    MutationKind,
    MutationRequest,
    MutationState,
    ServiceOrderCancellation,
)
from .order import (
    TERMINAL_ITEM_STATES,
    TERMINAL_ORDER_STATES,
    ItemAction,
    ItemRelationship,
    ItemState,
    OrderEvent,
    OrderState,
    ProductOrder,
    ProductOrderItem,
)
from .outbox import Notification, OutboxMessage
from .queues import HeldOrder, PendingApproval
from .reference import CustomerProfile, ServiceabilityRecord

__all__ = [
    "LIVE_SOM_STATES", "OPEN_MUTATION_STATES", "SOM_STATE_RANK", "CancellationState", "MutationKind",
    "MutationRequest", "MutationState", "ServiceOrderCancellation", "TERMINAL_SOM_STATES", "TERMINAL_ITEM_STATES",
    "TERMINAL_ORDER_STATES",
    "BillingIntent", "Channel", "CheckOutcome", "CheckRun", "CustomerProfile", "DecompositionPlan", "Fallout",
    "FalloutCategory", "FalloutStage", "HeldOrder", "HubSubscription", "InboundEvent", "ItemAction", "ItemRelationship",
    "ItemState", "Notification", "OrderCheckResult", "OrderEvent", "OrderState", "OutboxMessage",
    "PendingApproval", "ProcessingError", "ProductOrder", "ProductOrderItem", "ServiceOrder", "ServiceOrderItem",
    "ServiceabilityRecord", "SomState", "SomSubscription", "hash_token",
]
