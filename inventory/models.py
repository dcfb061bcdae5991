r"""Product inventory (TMF637): what each customer has, written by COM only when fulfilment is stable.

Product status (TMF637 ``ProductStatusType``)::

    created --activate--> active --suspend--> suspended --reactivate--> active
       |  \--await_activation--> pendingActive --activate--> active
       |                                          active --begin_termination--> pendingTerminate
       \--abort--> aborted                        active|suspended|pendingTerminate --terminate--> terminated

TMF622/637 v4 spell the aborted value ``"aborted "`` with a trailing space; it is stored without the
space and the API layer writes the spec's spelling.
"""
import uuid

from django.db import models
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition
from simple_history.models import HistoricalRecords


def new_product_id() -> str:
    return f"PR-{uuid.uuid4().hex[:12].upper()}"


class ProductStatus(models.TextChoices):
    CREATED = "created", "created"
    PENDING_ACTIVE = "pendingActive", "pendingActive"
    CANCELLED = "cancelled", "cancelled"
    ACTIVE = "active", "active"
    PENDING_TERMINATE = "pendingTerminate", "pendingTerminate"
    TERMINATED = "terminated", "terminated"
    SUSPENDED = "suspended", "suspended"
    ABORTED = "aborted", "aborted"


LIVE_PRODUCT_STATUSES = frozenset({ProductStatus.PENDING_ACTIVE, ProductStatus.ACTIVE, ProductStatus.SUSPENDED,
                                   ProductStatus.PENDING_TERMINATE})


class Product(FSMModelMixin, models.Model):
    """One product instance of one customer."""

    id = models.CharField(primary_key=True, max_length=40, default=new_product_id, editable=False)
    name = models.CharField(max_length=200)
    customer_id = models.CharField(max_length=80, db_index=True)
    status = FSMField(default=ProductStatus.CREATED, choices=ProductStatus.choices, protected=True, db_index=True)
    product_offering = models.ForeignKey("catalog.ProductOffering", on_delete=models.PROTECT, related_name="products")
    product_specification = models.ForeignKey("catalog.ProductSpecification", on_delete=models.PROTECT,
                                              related_name="products")
    characteristics = models.JSONField(default=dict, blank=True)
    quantity = models.PositiveIntegerField(default=1, help_text="How many units the order item bought.")
    place = models.JSONField(null=True, blank=True)
    related_parties = models.JSONField(default=list, blank=True)
    prices = models.JSONField(default=list, blank=True)
    realizing_services = models.JSONField(
        default=list, blank=True,
        help_text="[{service_spec, service_id, inputs}]: the CFS that realise it, as SOM built them.",
    )
    billing_account_id = models.CharField(max_length=80, blank=True)
    created_by_order = models.ForeignKey("orders.ProductOrder", on_delete=models.PROTECT, related_name="created_products")
    last_order = models.ForeignKey("orders.ProductOrder", on_delete=models.PROTECT, related_name="changed_products")
    version = models.PositiveIntegerField(default=1)
    order_date = models.DateTimeField()
    start_date = models.DateTimeField(null=True, blank=True)
    termination_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer_id", "status"])]

    def __str__(self) -> str:
        return f"{self.id} {self.name}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_PRODUCT_STATUSES

    @transition(field=status, source=[ProductStatus.CREATED, ProductStatus.PENDING_ACTIVE], target=ProductStatus.ACTIVE)
    def activate(self):
        """Every service it needs is built."""

    @transition(field=status, source=ProductStatus.CREATED, target=ProductStatus.PENDING_ACTIVE)
    def await_activation(self):
        """Some of its services are built, the rest are not yet."""

    @transition(field=status, source=ProductStatus.ACTIVE, target=ProductStatus.SUSPENDED)
    def suspend(self):
        """Service paused, subscription kept."""

    @transition(field=status, source=ProductStatus.SUSPENDED, target=ProductStatus.ACTIVE)
    def reactivate(self):
        """Resumed after a suspension."""

    @transition(field=status, source=ProductStatus.ACTIVE, target=ProductStatus.PENDING_TERMINATE)
    def begin_termination(self):
        """Termination ordered and under way."""

    @transition(field=status, source=[ProductStatus.ACTIVE, ProductStatus.SUSPENDED, ProductStatus.PENDING_TERMINATE,
                                      ProductStatus.PENDING_ACTIVE],
                target=ProductStatus.TERMINATED)
    def terminate(self):
        """Ceased."""

    @transition(field=status, source=[ProductStatus.CREATED, ProductStatus.PENDING_ACTIVE], target=ProductStatus.ABORTED)
    def abort(self):
        """Creation abandoned."""
