"""Catalog admin: admins edit the catalog here. A specification version an order item was captured against is
frozen; it changes only by creating a new version (the "Create a new version" action)."""
from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from catalog import services
from catalog.models import (
    DecompositionRule, ProductOffering, ProductOfferingPrice, ProductSpecCharacteristic, ProductSpecification,
    ServiceSpecification,
)


@admin.register(ServiceSpecification)
class ServiceSpecificationAdmin(SimpleHistoryAdmin):
    list_display = ("code", "name", "som", "max_retries", "failure_policy", "shareable", "reversible")
    list_filter = ("som", "failure_policy")
    search_fields = ("code", "name")
    filter_horizontal = ("depends_on",)


class _FrozenWhenInUse:
    """An inline of a specification: view only once the specification version is in use."""

    def has_add_permission(self, request, obj=None):
        return not (obj and obj.in_use) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not (obj and obj.in_use) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not (obj and obj.in_use) and super().has_delete_permission(request, obj)


class CharacteristicInline(_FrozenWhenInUse, admin.TabularInline):
    model = ProductSpecCharacteristic
    extra = 0
    fields = ("name", "description", "value_type", "mandatory", "configurable", "allowed_values", "default_value",
              "unit")


class DecompositionRuleInline(_FrozenWhenInUse, admin.TabularInline):
    model = DecompositionRule
    extra = 0
    fields = ("sequence", "service_specification", "mandatory", "condition_characteristic", "condition_operator",
              "condition_value", "technology", "input_characteristics")


@admin.register(ProductSpecification)
class ProductSpecificationAdmin(SimpleHistoryAdmin):
    list_display = ("spec_id", "version", "name", "lifecycle_status", "requires_place", "requires_appointment",
                    "last_update")
    list_filter = ("lifecycle_status",)
    search_fields = ("spec_id", "name")
    inlines = [CharacteristicInline, DecompositionRuleInline]
    actions = ["create_new_version"]

    # Refusing the change also refuses django-simple-history's revert, which would rewrite a frozen version.
    def has_change_permission(self, request, obj=None):
        return not (obj and obj.in_use) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not (obj and obj.in_use) and super().has_delete_permission(request, obj)

    @admin.action(description="Create a new version", permissions=["add"])
    def create_new_version(self, request, queryset):
        created = [services.revise_specification(specification=spec, actor_name=request.user.get_username())
                   for spec in queryset]
        self.message_user(request, "Created " + ", ".join(str(spec) for spec in created)
                          + "; the offerings that sold the old versions now sell them.")


class PriceInline(admin.TabularInline):
    model = ProductOfferingPrice
    extra = 0
    fields = ("name", "price_type", "amount", "currency", "recurring_period")


@admin.register(ProductOffering)
class ProductOfferingAdmin(SimpleHistoryAdmin):
    list_display = ("offering_id", "name", "version", "lifecycle_status", "category", "specification", "valid_from",
                    "valid_to")
    list_filter = ("lifecycle_status", "category")
    search_fields = ("offering_id", "name")
    list_select_related = ("specification",)
    inlines = [PriceInline]
