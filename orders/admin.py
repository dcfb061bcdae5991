"""The order desk's admin: the queues (held orders, fallouts, changes awaiting approval), the order page, the
fulfilment records; the dashboard is on the admin home (``templates/admin/index.html``).

State is read-only everywhere: it moves only through commands (``orders/services``). A bulk action is one line
calling a command for each selected row; the order, fallout and change request pages are the desk's own
screens (``orders.desk.views``, mounted through ``get_urls``) whose buttons are the allow-listed commands
(``orders.desk.commands``). Nothing has a Save button, and history is never written back
(``comapp.history_admin``). Every list makes the same number of queries whatever its length, pages, and never
counts a huge table to the end (``BoundedPaginator``, no full result count).
"""
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join

from catalog.models import ProductOffering, ServiceSpecification
from comapp.errors import ComError
from comapp.history_admin import ReadOnlyHistoryAdmin
from orders import selectors
from orders.desk import views
from orders.desk.commands import FALLOUT_COMMANDS, REPAIR_COMMANDS
from orders.desk.paging import BoundedPaginator
from orders.desk.words import ORDER_STATE_WORDS, age
from orders.models import (
    BillingIntent,
    Channel,
    CustomerProfile,
    Fallout,
    FalloutCategory,
    HeldOrder,
    HubSubscription,
    InboundEvent,
    MutationRequest,
    OrderEvent,
    OutboxMessage,
    PendingApproval,
    ProductOrder,
    ProductOrderItem,
    ServiceabilityRecord,
    ServiceOrder,
    ServiceOrderItem,
)
from orders.services import fallouts as fallout_classes
from orders.services import holds, notes, repairs
from orders.services.holds import REJECTION_REASONS
from orders.templatetags.desk import compact

# The admin is the order desk: its name on every page; no navigation sidebar, whose 300 pixels the queues'
# tables need (every page has breadcrumbs, and the home page lists the queues and the models).
admin.site.site_header = "COM order desk"
admin.site.site_title = "COM order desk"
admin.site.index_title = "Order desk"
admin.site.enable_nav_sidebar = False

# A bulk action works on at most this many rows (each its own command): "select all" on a long list does not
# turn one click into an unbounded batch.
BULK_LIMIT = 100


def run_command(model_admin, request, queryset, argument: str, command, done: str, **arguments) -> None:
    """Run a command on each selected row; each runs in its own transaction and reports its own outcome."""
    rows = list(queryset[:BULK_LIMIT + 1])
    if len(rows) > BULK_LIMIT:
        model_admin.message_user(request, f"Only the first {BULK_LIMIT} selected rows were worked: select fewer",
                                 level=messages.WARNING)
        rows = rows[:BULK_LIMIT]
    reason = (request.POST.get("reason") or "").strip() or f"{done} from the admin"
    for obj in rows:
        name = f"Fallout {obj.pk}" if argument == "fallout" else str(obj.pk)
        try:
            command(**{argument: obj}, user=request.user, reason=reason, **arguments)
            model_admin.message_user(request, f"{name}: {done}")
        except ComError as error:
            model_admin.message_user(request, f"{name}: {error.message}", level=messages.ERROR)


class DeskActionForm(ActionForm):
    """The bulk action bar: the action, the reason it is run for, and a reason code for a rejection."""

    reason_code = forms.ChoiceField(required=False, label="Reason code",
                                    choices=[("", "(to reject: a reason code)"), *REJECTION_REASONS.items()])
    reason = forms.CharField(required=False, max_length=500, label="Reason",
                             widget=forms.TextInput(attrs={"size": 40, "placeholder": "why (goes on the timeline)"}))


class ReasonActionForm(ActionForm):
    """The bulk action bar of the fallout queue: the action and the reason it is run for."""

    reason = forms.CharField(required=False, max_length=500, label="Reason",
                             widget=forms.TextInput(attrs={"size": 40, "placeholder": "why (goes on the timeline)"}))


class DeskListMixin:
    """Lists that stay fast: bounded counts, pages of 50, no per-choice counts on the filters."""

    paginator = BoundedPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50


class CommandsOnlyMixin:
    """A read-only change form (no Save); the actions run commands for users with the change permission."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_command_permission(self, request):
        opts = self.opts
        if opts.proxy:
            opts = opts.concrete_model._meta
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


class HeldOrderActions:
    """The held-order commands as bulk actions (the held queue, and the order list)."""

    @admin.action(description="Release the hold", permissions=["command"])
    def release_holds(self, request, queryset):
        run_command(self, request, queryset, "order", holds.release_hold, "released")

    @admin.action(description="Reject the order (with the reason code)", permissions=["command"])
    def reject_held_orders(self, request, queryset):
        code = request.POST.get("reason_code") or "REJECTED_BY_AGENT"
        run_command(self, request, queryset, "order", holds.reject_held, "rejected", reason_code=code)

    @admin.action(description="Ask for information (the reason is the question)", permissions=["command"])
    def request_information(self, request, queryset):
        if not (request.POST.get("reason") or "").strip():
            self.message_user(request, "Write the question in Reason: it is what the channel is asked",
                              level=messages.ERROR)
            return
        run_command(self, request, queryset, "order", holds.request_information, "information requested")

    @admin.action(description="Add a note (the reason is the note)", permissions=["command"])
    def add_note(self, request, queryset):
        text = (request.POST.get("reason") or "").strip()
        if not text:
            self.message_user(request, "Write the note in Reason", level=messages.ERROR)
            return
        for order in queryset[:BULK_LIMIT]:
            try:
                notes.add_note(order=order, user=request.user, text=text)
                self.message_user(request, f"{order.pk}: note added")
            except ComError as error:
                self.message_user(request, f"{order.pk}: {error.message}", level=messages.ERROR)


def order_link(order_id: str):
    return format_html('<a class="desk-order-link" href="{}">{}</a>', views.order_url(order_id), order_id)


@admin.display(description="ordered", ordering="order_date")
def ordered(obj):
    """The order date, short and sortable to the eye (the admin's default is "Nov. 24, 2026, 12:05 a.m.")."""
    return format_html('<span class="desk-date">{}</span>', date_format(timezone.localtime(obj.order_date),
                                                                       "Y-m-d H:i"))


def customer_text(order) -> str:
    name = views.customer_of(order)["name"]
    return f"{name} ({order.customer_id})" if name else order.customer_id


def fixed_filter(field: str, title: str, values) -> type:
    """A list filter over known values: no ``SELECT DISTINCT`` over a whole table to draw its choices."""

    class FixedValuesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return [(str(v), str(v)) for v in (values() if callable(values) else values)]

        def queryset(self, request, queryset):
            return queryset.filter(**{field: self.value()}) if self.value() is not None else queryset

    FixedValuesFilter.title = title
    return FixedValuesFilter


PRIORITY_FILTER = fixed_filter("priority", "priority", range(5))


class OfferingFilter(admin.SimpleListFilter):
    """Orders (or fallouts) with an item of this offering."""

    title = "offering"
    parameter_name = "offering"

    def lookups(self, request, model_admin):
        return list(ProductOffering.objects.order_by("offering_id").values_list("offering_id", "offering_id")[:200])

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if queryset.model is Fallout:
            through = Fallout.items.through.objects.filter(
                fallout_id=OuterRef("pk"), productorderitem__product_offering__offering_id=self.value())
            return queryset.filter(Exists(through))
        items = ProductOrderItem.objects.filter(order_id=OuterRef("pk"), product_offering__offering_id=self.value())
        return queryset.filter(Exists(items))


class AgeFilter(admin.SimpleListFilter):
    """How long a held order (since its hold) or a fallout (since it opened) has waited."""

    title = "waiting for"
    parameter_name = "age"
    field = "held_since"

    def lookups(self, request, model_admin):
        return [(key, label) for key, label, *_ in selectors.AGE_BUCKETS]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        oldest, newest = selectors.age_bucket_range(self.value(), timezone.now())
        queryset = queryset.filter(**{f"{self.field}__lte": newest})
        return queryset.filter(**{f"{self.field}__gt": oldest}) if oldest else queryset


class FalloutAgeFilter(AgeFilter):
    field = "opened_at"


# --- orders -------------------------------------------------------------------------------------------------

@admin.register(ProductOrder)
class ProductOrderAdmin(DeskListMixin, HeldOrderActions, CommandsOnlyMixin, ReadOnlyHistoryAdmin):
    list_display = ("order", "state_words", "channel", "customer", "priority", "ordered", "version")
    list_display_links = None
    list_filter = ("state", "channel", PRIORITY_FILTER, ("order_date", admin.DateFieldListFilter), OfferingFilter)
    search_fields = ("=id", "=external_id", "=customer_id")  # exact: an index lookup, never a scan
    search_help_text = "An order id, an external id or a customer id (exact)."
    list_select_related = ("channel",)
    action_form = DeskActionForm
    actions = ["release_holds", "reject_held_orders", "request_information", "add_note"]

    @admin.display(description="order", ordering="id")
    def order(self, obj):
        return order_link(obj.pk)

    ordered = staticmethod(ordered)

    @admin.display(description="state", ordering="state")
    def state_words(self, obj):
        return format_html('<span class="desk-state state-{}">{}</span>', obj.state,
                           ORDER_STATE_WORDS.get(obj.state, obj.state))

    @admin.display(description="customer", ordering="customer_id")
    def customer(self, obj):
        return customer_text(obj)

    def has_add_permission(self, request):
        return False  # orders come from channels over TMF622

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/do/<slug:name>/", wrap(lambda r, object_id, name: views.order_command(
                r, self, object_id, name)), name="orders_productorder_command"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied  # nothing on the page is edited in place: the buttons are commands
        return views.order_page(request, self, object_id)


@admin.register(HeldOrder)
class HeldOrderAdmin(DeskListMixin, HeldOrderActions, CommandsOnlyMixin, admin.ModelAdmin):
    """The held queue: orders a business check held, the most urgent first (priority, then the longest held)."""

    list_display = ("order", "priority", "held_for", "reason", "customer", "channel_name", "ordered")
    list_display_links = None
    list_filter = (AgeFilter, "state_reason_code", PRIORITY_FILTER, "channel")  # reasons: of the held set only
    search_fields = ("=id", "=customer_id")
    search_help_text = "An order id or a customer id (exact)."
    action_form = DeskActionForm
    actions = ["release_holds", "reject_held_orders", "request_information", "add_note"]
    # no ``ordering``: the queue's own (priority, then the longest held) is the list's default

    def get_queryset(self, request):
        return selectors.held_queue()

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("orders.view_productorder")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(views.order_url(object_id))

    @admin.display(description="order", ordering="pk")
    def order(self, obj):
        return order_link(obj.pk)

    ordered = staticmethod(ordered)

    @admin.display(description="held for", ordering="held_since")
    def held_for(self, obj):
        return format_html('<span class="desk-age" title="held since {}">{}</span>', obj.held_since,
                           age(obj.held_since))

    @admin.display(description="reason: the failing check", ordering="state_reason_code")
    def reason(self, obj):
        """The reason code, then what the check that held the order found (one column: the queue fits a screen)."""
        return format_html('<strong class="desk-reason-code">{}</strong> {}', obj.state_reason_code or "-",
                           self.failing_check(obj))

    @admin.display(description="failing check")
    def failing_check(self, obj):
        results = selectors.latest_hold_results(obj)
        return format_html_join(
            "", '<div class="desk-check"><strong>{}</strong>: {}<br><small>{}</small></div>',
            ((r.check_code, r.message, compact(r.details or {})) for r in results)) or obj.state_reason or "-"

    @admin.display(description="customer", ordering="customer_id")
    def customer(self, obj):
        return customer_text(obj)

    @admin.display(description="channel", ordering="channel__name")
    def channel_name(self, obj):
        return obj.channel.name


# --- fallouts -----------------------------------------------------------------------------------------------

class FalloutStatusFilter(admin.SimpleListFilter):
    """Open fallouts unless asked otherwise: the queue is what is left to do."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", "open"), ("resolved", "resolved"), ("all", "all")]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {"selected": (self.value() or "open") == value, "display": label,
                   "query_string": changelist.get_query_string({self.parameter_name: value})}

    def queryset(self, request, queryset):
        value = self.value() or "open"
        if value == "open":
            return queryset.filter(resolved_at__isnull=True)
        if value == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


class ServiceFilter(admin.SimpleListFilter):
    title = "service (CFS)"
    parameter_name = "service"

    def lookups(self, request, model_admin):
        return list(ServiceSpecification.objects.order_by("code").values_list("code", "code")[:200])

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(service_order_item__service_specification__code=self.value())
        return queryset


@admin.register(Fallout)
class FalloutAdmin(DeskListMixin, CommandsOnlyMixin, admin.ModelAdmin):
    """The fallout queue, explained: each fallout's class and the repair it calls for, grouped by root cause."""

    list_display = ("fallout", "order_id_link", "opened_for", "fallout_class", "proposed_repair", "service",
                    "held_items", "what_happened", "status")
    list_display_links = None
    list_filter = (FalloutStatusFilter, "category", "stage", FalloutAgeFilter, OfferingFilter, ServiceFilter,
                   fixed_filter("reason_code", "reason", lambda: sorted(fallout_classes.CATEGORY_OF)))
    search_fields = ("=order__id", "=root_cause")
    search_help_text = "An order id or a root cause (exact)."
    action_form = ReasonActionForm
    actions = ["retry", "fail"]
    ordering = ("opened_at", "id")

    def get_queryset(self, request):
        return selectors.fallout_queue()

    def get_list_display(self, request):
        """The open queue (the default) has no status column: every row there is open, and the room is needed."""
        if request.GET.get(FalloutStatusFilter.parameter_name, "open") == "open":
            return tuple(c for c in self.list_display if c != "status")
        return self.list_display

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("groups/", wrap(lambda r: views.fallout_groups(r, self)), name="orders_fallout_groups"),
            path("groups/retry/", wrap(lambda r: views.fallout_group_retry(r, self)),
                 name="orders_fallout_group_retry"),
            path("<int:object_id>/do/<slug:name>/", wrap(lambda r, object_id, name: views.fallout_command(
                r, self, object_id, name)), name="orders_fallout_command"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        if not str(object_id).isdigit():
            return HttpResponseRedirect(reverse("admin:orders_fallout_changelist"))
        return views.fallout_page(request, self, int(object_id))

    @admin.display(description="fallout", ordering="id")
    def fallout(self, obj):
        return format_html('<a class="desk-fallout-link" href="{}">Fallout {}</a>', views.fallout_url(obj.pk), obj.pk)

    @admin.display(description="order", ordering="order_id")
    def order_id_link(self, obj):
        return order_link(obj.order_id)

    @admin.display(description="open for", ordering="opened_at")
    def opened_for(self, obj):
        return age(obj.opened_at) if obj.is_open else format_html("<small>resolved {}</small>", obj.resolution)

    @admin.display(description="class", ordering="category")
    def fallout_class(self, obj):
        return format_html('<span class="desk-class class-{}">{}</span>', obj.category,
                           FalloutCategory(obj.category).label if obj.category in FalloutCategory.values else
                           obj.category)

    @admin.display(description="repair")
    def proposed_repair(self, obj):
        if not obj.is_open:
            return "-"
        repairs_ = fallout_classes.repairs_for(obj)
        return FALLOUT_COMMANDS[REPAIR_COMMANDS[repairs_[0]]].label if repairs_ else "-"

    @admin.display(description="service")
    def service(self, obj):
        row = obj.service_order_item
        return f"{row.item_ref} {row.service_specification.code}" if row else "(the order)"

    @admin.display(description="items")
    def held_items(self, obj):
        return ", ".join(i.item_id for i in obj.items.all())

    @admin.display(description="what happened", ordering="reason_code")
    def what_happened(self, obj):
        """The reason code, SOM's or COM's message, and the root cause (a link to every fallout it caused): one
        column, so the queue fits a screen."""
        return format_html('<strong class="desk-reason-code">{}</strong> <small>{}</small><br>{}', obj.reason_code,
                           obj.message, self.root_cause_link(obj))

    @admin.display(description="root cause", ordering="root_cause")
    def root_cause_link(self, obj):
        url = reverse("admin:orders_fallout_changelist") + "?" + urlencode({"root_cause": obj.root_cause})
        return format_html('<a class="desk-root-cause" href="{}">{}</a>', url, obj.root_cause)

    @admin.display(description="status")
    def status(self, obj):
        return "open" if obj.is_open else f"{obj.resolution} by {obj.resolved_by or 'system'}"

    @admin.action(description="Retry now", permissions=["command"])
    def retry(self, request, queryset):
        run_command(self, request, queryset, "fallout", repairs.retry_fallout_in_bulk, "retried")

    @admin.action(description="Give up on the items", permissions=["command"])
    def fail(self, request, queryset):
        run_command(self, request, queryset, "fallout", repairs.fail_fallout, "failed")


# --- changes to orders: every request, and those waiting for a supervisor -----------------------------------

class MutationAdminBase(DeskListMixin, admin.ModelAdmin):
    list_display_links = None

    def has_add_permission(self, request):
        return False  # requested from the order page (or TMF622's task resources)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="request", ordering="id")
    def request_link(self, obj):
        return format_html('<a class="desk-mutation-link" href="{}">{}</a>', views.mutation_url(obj.pk), obj.pk)

    @admin.display(description="order", ordering="order_id")
    def order_id_link(self, obj):
        return order_link(obj.order_id)

    @admin.display(description="requested", ordering="created_at")
    def requested_for(self, obj):
        return age(obj.created_at)

    @admin.display(description="items")
    def target_items(self, obj):
        return ", ".join(i.item_id for i in obj.items.all()) or "(the order)"


@admin.register(MutationRequest)
class MutationRequestAdmin(MutationAdminBase):
    list_display = ("request_link", "kind", "state", "order_id_link", "target_items", "requester", "reason_code",
                    "decision", "approver", "requested_for")
    list_filter = ("state", "kind", "decision")
    search_fields = ("=id", "=order__id")
    ordering = ("-created_at", "id")

    def get_queryset(self, request):
        return selectors.mutation_queue()

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("policy/", wrap(lambda r: views.policy_page(r, self)), name="orders_mutationrequest_policy"),
            path("<path:object_id>/decide/", wrap(lambda r, object_id: views.mutation_decide(r, self, object_id)),
                 name="orders_mutationrequest_decide"),
        ] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return views.mutation_page(request, self, object_id)


@admin.register(PendingApproval)
class PendingApprovalAdmin(MutationAdminBase):
    """The approvals queue: cancellations, amendments and manual completions a supervisor decides."""

    list_display = ("request_link", "kind", "order_id_link", "target_items", "requester", "reason_code", "reason",
                    "customer_consent_ref", "why_approval", "requested_for")
    list_filter = ("kind",)
    search_fields = ("=id", "=order__id")
    ordering = ("created_at", "id")

    def get_queryset(self, request):
        return selectors.pending_approvals()

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("orders.view_mutationrequest")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return HttpResponseRedirect(views.mutation_url(object_id))

    @admin.display(description="why it needs approval")
    def why_approval(self, obj):
        return (obj.assessment or {}).get("reason", "")


# --- fulfilment records (read-only) -------------------------------------------------------------------------

class ReadOnlyAdmin(DeskListMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def next_transitions(obj) -> str:
    """The moves the state machine allows from here (what a command could do next)."""
    names = sorted({t.name for t in obj.get_available_state_transitions()}) if obj and obj.pk else []
    return ", ".join(names) or "none (final state)"


@admin.register(ServiceOrder)
class ServiceOrderAdmin(ReadOnlyHistoryAdmin, ReadOnlyAdmin):
    list_display = ("external_id", "order", "purpose", "som", "som_order_id", "state", "created_at")
    list_filter = ("state", fixed_filter("purpose", "purpose", ("fulfil", "retry", "compensate")),
                   fixed_filter("som", "SOM", lambda: sorted(settings.COM_SOM_ENDPOINTS)))
    search_fields = ("=external_id", "=som_order_id", "=order__id")
    readonly_fields = ("allowed_moves",)

    @admin.display(description="allowed next moves")
    def allowed_moves(self, obj):
        return next_transitions(obj)


@admin.register(ServiceOrderItem)
class ServiceOrderItemAdmin(ReadOnlyHistoryAdmin, ReadOnlyAdmin):
    list_display = ("order", "item_ref", "action", "service_specification", "state", "attempts", "service_order")
    list_filter = ("state", fixed_filter("action", "action", ("add", "modify", "delete")), "service_specification")
    ordering = ("-id",)  # the newest first, on the primary key's index
    list_select_related = ("order", "service_specification", "service_order")
    search_fields = ("=order__id", "=service_id")


@admin.register(OrderEvent)
class OrderEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "order", "type", "actor", "message")
    list_filter = ("type",)
    ordering = ("-id",)
    search_fields = ("=order__id",)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "dedup_key", "status", "attempts", "next_attempt_at", "response_status",
                    "last_error")
    list_filter = ("kind", "status")
    search_fields = ("=dedup_key", "=order__id")
    ordering = ("-id",)


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "event_type", "event_id", "service_order", "processed_at", "outcome")
    list_filter = ("status",)
    list_select_related = ("service_order",)
    ordering = ("-id",)
    search_fields = ("=event_id", "=service_order__external_id")


@admin.register(BillingIntent)
class BillingIntentAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "action", "product", "quantity", "customer_id", "order", "effective_date",
                    "price_list")
    list_filter = ("action",)
    list_select_related = ("product", "order")
    ordering = ("-id",)
    search_fields = ("=product__id", "=customer_id", "=order__id")

    @admin.display(description="prices")
    def price_list(self, obj):
        return format_html_join(", ", "{} {} {}", ((p.get("name"), p.get("amount"), p.get("currency"))
                                                   for p in obj.prices)) or format_html("-")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    list_display = ("name", "token_prefix", "is_active", "sees_all_channels", "created_at")
    list_filter = ("is_active", "sees_all_channels")
    fields = ("name", "user", "is_active", "sees_all_channels", "token_prefix", "token_hash", "webhook_secret_end",
              "created_at")
    readonly_fields = ("name", "user", "token_hash", "token_prefix", "webhook_secret_end", "created_at")

    def has_add_permission(self, request):
        return False  # created with `manage.py channel add NAME`, which shows the token once

    @admin.display(description="webhook secret")
    def webhook_secret_end(self, obj):
        """Enough to tell secrets apart, not to sign with one: the whole secret is read with the command line."""
        return format_html("…{} <small>(the whole secret: <code>manage.py channel show {}</code>)</small>",
                           (obj.webhook_secret or "")[-4:], obj.name)


@admin.register(HubSubscription)
class HubSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("channel", "callback", "query", "created_at")


@admin.register(CustomerProfile)
class CustomerProfileAdmin(ReadOnlyHistoryAdmin):
    """Edited in place (reference data); every change is in the history, which cannot be written back."""

    list_display = ("party_id", "name", "payment_type", "credit_limit", "segment")
    search_fields = ("party_id", "name")


@admin.register(ServiceabilityRecord)
class ServiceabilityRecordAdmin(admin.ModelAdmin):
    list_display = ("place_id", "address", "technology", "max_download_mbps", "preference")
    search_fields = ("place_id", "address")
