"""Order domain models; each module's docstring draws its state machine."""
from .channel import Channel, HubSubscription, hash_token
from .fulfilment import (
    SOM_STATE_RANK,
    TERMINAL_SOM_STATES,
    BillingActivation,
    InboundEvent,
    ServiceOrder,
    ServiceOrderItem,
    SomState,
)
from .order import (
    TERMINAL_ITEM_STATES,
    TERMINAL_ORDER_STATES,
    CheckOutcome,
    Fallout,
    ItemAction,
    ItemState,
    OrderCheckResult,
    OrderEvent,
    OrderState,
    ProductOrder,
    ProductOrderItem,
)
from .outbox import OutboxMessage
from .reference import CustomerProfile, ServiceabilityRecord

__all__ = [
    "SOM_STATE_RANK", "TERMINAL_SOM_STATES", "TERMINAL_ITEM_STATES", "TERMINAL_ORDER_STATES",
    "BillingActivation", "Channel", "CheckOutcome", "CustomerProfile", "Fallout", "HubSubscription",
    "InboundEvent", "ItemAction", "ItemState", "OrderCheckResult", "OrderEvent", "OrderState",
    "OutboxMessage", "ProductOrder", "ProductOrderItem", "ServiceOrder", "ServiceOrderItem",
    "ServiceabilityRecord", "SomState", "hash_token",
]
