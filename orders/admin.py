"""The order desk's admin: orders with their items, timeline, checks, plan and history; fulfilment records.

State is read-only everywhere: it moves only through commands (``orders/services``). Admin actions are
one line that calls a command.
"""
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from comapp.errors import ComError
from orders.models import (
    BillingActivation,
    Channel,
    CustomerProfile,
    Fallout,
    HubSubscription,
    InboundEvent,
    OrderCheckResult,
    OrderEvent,
    OutboxMessage,
    ProductOrder,
    ProductOrderItem,
    ServiceabilityRecord,
    ServiceOrder,
    ServiceOrderItem,
)
from orders.services import holds


def next_transitions(obj) -> str:
    """The moves the state machine allows from here (what a command could do next)."""
    names = sorted({t.name for t in obj.get_available_state_transitions()}) if obj and obj.pk else []
    return ", ".join(names) or "none (final state)"


def run_command(model_admin, request, queryset, argument: str, command, done: str) -> None:
    """Run a command on each selected row; each runs in its own transaction and reports its own outcome."""
    for obj in queryset:
        name = f"Fallout {obj.pk}" if argument == "fallout" else str(obj.pk)
        try:
            command(**{argument: obj}, user=request.user, reason=f"{done} from the admin")
            model_admin.message_user(request, f"{name}: {done}")
        except ComError as error:
            model_admin.message_user(request, f"{name}: {error.message}", level=messages.ERROR)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ItemInline(ReadOnlyInline):
    model = ProductOrderItem
    fields = ("item_id", "action", "state", "product_offering", "offering_version", "product_specification",
              "quantity", "characteristics", "place", "product", "state_reason")
    readonly_fields = fields


class CheckInline(ReadOnlyInline):
    model = OrderCheckResult
    fields = ("check_code", "outcome", "reason_code", "message", "details", "ran_at")
    readonly_fields = fields


class PlanInline(ReadOnlyInline):
    model = ServiceOrderItem
    verbose_name_plural = "Decomposition plan (product item -> service order items)"
    fields = ("item_ref", "for_items", "action", "service_specification", "mandatory", "characteristics",
              "depends", "state", "attempts", "service_order", "service_id", "error")
    readonly_fields = fields

    @admin.display(description="product items")
    def for_items(self, obj):
        return ", ".join(i.item_id for i in obj.product_items.all())

    @admin.display(description="depends on")
    def depends(self, obj):
        return ", ".join(d.item_ref for d in obj.depends_on.all()) or "-"


class ServiceOrderInline(ReadOnlyInline):
    model = ServiceOrder
    fields = ("external_id", "purpose", "som", "som_order_id", "state", "created_at", "acknowledged_at",
              "completed_at", "error")
    readonly_fields = fields


class EventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("occurred_at", "type", "actor", "message", "item", "order_version")
    readonly_fields = fields
    ordering = ("id",)


class FalloutInline(ReadOnlyInline):
    model = Fallout
    fields = ("item", "reason_code", "message", "opened_at", "resolution", "resolved_at", "resolved_by")
    readonly_fields = fields


@admin.register(ProductOrder)
class ProductOrderAdmin(SimpleHistoryAdmin):
    list_display = ("id", "state", "channel", "customer_id", "external_id", "priority", "order_date", "version")
    list_filter = ("state", "channel", "priority", ("order_date", admin.DateFieldListFilter), "category")
    search_fields = ("id", "external_id", "customer_id")
    date_hierarchy = "order_date"
    list_select_related = ("channel",)
    readonly_fields = ("id", "state", "allowed_moves", "state_reason_code", "state_reason", "channel", "version",
                       "external_id", "customer_id", "related_parties", "order_date", "requested_start_date",
                       "requested_completion_date", "completion_date", "priority", "category", "description",
                       "notification_contact", "billing_account_id", "notes", "idempotency_key", "created_at",
                       "updated_at", "checks_started_at", "expected_completion_date", "cancellation_date",
                       "cancellation_reason", "request_fingerprint")
    fieldsets = (
        (None, {"fields": ("id", "state", "allowed_moves", "state_reason_code", "state_reason", "channel",
                           "external_id", "version")}),
        ("Customer", {"fields": ("customer_id", "related_parties", "billing_account_id")}),
        ("Dates", {"fields": ("order_date", "requested_start_date", "requested_completion_date",
                              "expected_completion_date", "completion_date", "cancellation_date")}),
        ("Details", {"fields": ("priority", "category", "description", "notification_contact", "notes",
                                "cancellation_reason", "idempotency_key", "request_fingerprint",
                                "checks_started_at", "created_at", "updated_at")}),
    )
    inlines = [ItemInline, CheckInline, PlanInline, ServiceOrderInline, FalloutInline, EventInline]
    actions = ["release_holds", "reject_held_orders"]

    @admin.display(description="allowed next moves")
    def allowed_moves(self, obj):
        return next_transitions(obj)

    def has_add_permission(self, request):
        return False  # orders come from channels over TMF622

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Release the hold (start fulfilment)", permissions=["change"])
    def release_holds(self, request, queryset):
        run_command(self, request, queryset, "order", holds.release_hold, "released")

    @admin.action(description="Reject the held order", permissions=["change"])
    def reject_held_orders(self, request, queryset):
        run_command(self, request, queryset, "order", holds.reject_held, "rejected")


@admin.register(Fallout)
class FalloutAdmin(admin.ModelAdmin):
    list_display = ("order", "item", "reason_code", "message", "opened_at", "resolution", "resolved_at")
    list_filter = ("reason_code", "resolution")
    search_fields = ("order__id", "message")
    readonly_fields = [f.name for f in Fallout._meta.fields]
    actions = ["retry", "fail"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry the failed service", permissions=["change"])
    def retry(self, request, queryset):
        run_command(self, request, queryset, "fallout", holds.retry_fallout, "retried")

    @admin.action(description="Fail the item", permissions=["change"])
    def fail(self, request, queryset):
        run_command(self, request, queryset, "fallout", holds.fail_fallout, "failed")


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ServiceOrder)
class ServiceOrderAdmin(SimpleHistoryAdmin, ReadOnlyAdmin):
    list_display = ("external_id", "order", "purpose", "som", "som_order_id", "state", "created_at")
    list_filter = ("state", "purpose", "som")
    search_fields = ("external_id", "som_order_id", "order__id")
    readonly_fields = ("allowed_moves",)

    @admin.display(description="allowed next moves")
    def allowed_moves(self, obj):
        return next_transitions(obj)


@admin.register(ServiceOrderItem)
class ServiceOrderItemAdmin(SimpleHistoryAdmin, ReadOnlyAdmin):
    list_display = ("order", "item_ref", "action", "service_specification", "state", "attempts", "service_order")
    list_filter = ("state", "action", "service_specification")
    search_fields = ("order__id", "service_id")


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "order", "type", "actor", "message")
    list_filter = ("type",)
    search_fields = ("order__id", "message")


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "dedup_key", "status", "attempts", "next_attempt_at", "response_status",
                    "last_error")
    list_filter = ("kind", "status")
    search_fields = ("dedup_key", "order__id")


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "event_type", "event_id", "service_order", "processed_at", "outcome")
    list_filter = ("event_type",)
    search_fields = ("event_id", "service_order__external_id")


@admin.register(BillingActivation)
class BillingActivationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "product", "customer_id", "order", "effective_date", "price_list")
    list_filter = ("action",)
    search_fields = ("product__id", "customer_id", "order__id")

    @admin.display(description="prices")
    def price_list(self, obj):
        return format_html_join(", ", "{} {} {}", ((p.get("name"), p.get("amount"), p.get("currency"))
                                                   for p in obj.prices)) or format_html("-")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "token_prefix", "is_active", "created_at")
    readonly_fields = ("name", "user", "token_hash", "token_prefix", "webhook_secret", "created_at")

    def has_add_permission(self, request):
        return False  # created with `manage.py channel add NAME`, which shows the token once


@admin.register(HubSubscription)
class HubSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("channel", "callback", "query", "created_at")


@admin.register(CustomerProfile)
class CustomerProfileAdmin(admin.ModelAdmin):
    list_display = ("party_id", "name", "payment_type", "credit_limit", "segment")
    search_fields = ("party_id", "name")


@admin.register(ServiceabilityRecord)
class ServiceabilityRecordAdmin(admin.ModelAdmin):
    list_display = ("place_id", "address", "technology", "max_download_mbps", "preference")
    search_fields = ("place_id", "address")
