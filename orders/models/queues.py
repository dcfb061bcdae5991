"""The order desk's queues as proxy models: an admin home entry each, on the rows of an existing table.

No table of their own and no state of their own: a queue is a selector (``orders.selectors``) shown by the
admin, and its permissions are those of the model it is a view of (``orders.admin``).
"""
from .mutation import MutationRequest
from .order import ProductOrder


class HeldOrder(ProductOrder):
    """An order held by a business check (credit, fraud, duplicate...), waiting for an agent's decision."""

    class Meta:
        proxy = True
        verbose_name = "held order"
        verbose_name_plural = "held orders"


class PendingApproval(MutationRequest):
    """A change to an order that waits for a supervisor's decision."""

    class Meta:
        proxy = True
        verbose_name = "change awaiting approval"
        verbose_name_plural = "changes awaiting approval"
