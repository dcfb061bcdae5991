"""Catalog admin: admins edit the catalog here. A product specification version an order item was captured
against is frozen, and so is a service specification (CFS) version such a specification names; each changes
only by creating a new version (the "Create a new version" actions). A frozen version's history is read-only
too: django-simple-history's revert form would otherwise write an old version over it."""
from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import HttpResponseRedirect
from simple_history.admin import SimpleHistoryAdmin

from catalog import services
from catalog.selectors import dependency_cycle
from catalog.models import (
    DecompositionRule,
    ProductOffering,
    ProductOfferingPrice,
    ProductSpecCharacteristic,
    ProductSpecification,
    ServiceSpecification,
)
from comapp.errors import ComError


class _FrozenVersionAdmin(SimpleHistoryAdmin):
    """A versioned catalog row: view only once in use, its history included."""

    # Refusing the change refuses the change form; the history form checks only the view permission.
    def has_change_permission(self, request, obj=None):
        return not (obj and obj.in_use) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not (obj and obj.in_use) and super().has_delete_permission(request, obj)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD") and not self.has_change_permission(
                request, self.get_object(request, object_id)):
            raise PermissionDenied("This version is in use: it is frozen. Create a new version instead.")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None):
        return not self.has_change_permission(request, obj) or super().revert_disabled(request, obj)


def _each(model_admin, request, targets, command) -> list:
    """Run a catalog command on each target (each in its own transaction); a refusal is an error message naming
    the target, and changes nothing of it. Returns what the commands returned."""
    done = []
    for target in targets:
        try:
            done.append(command(target))
        except ComError as error:
            model_admin.message_user(request, f"{target}: {error.message}", level=messages.ERROR)
    return done


def _som_choices():
    return [(key, key) for key in settings.COM_SOM_ENDPOINTS]


class ServiceSpecificationForm(forms.ModelForm):
    # Only a SOM COM is configured to reach (COM_SOM_ENDPOINTS) can build a service.
    som = forms.ChoiceField(choices=_som_choices, help_text=ServiceSpecification._meta.get_field("som").help_text)

    class Meta:
        model = ServiceSpecification
        fields = "__all__"

    def clean_code(self):
        code = self.cleaned_data["code"]
        if self.instance.pk is None and ServiceSpecification.objects.filter(code=code).exists():
            raise forms.ValidationError(f"Service specification {code} exists: change it with the "
                                        "\"Create a new version\" action, or edit a version not yet in use.")
        return code

    def clean_depends_on(self):
        depends_on = self.cleaned_data["depends_on"]
        code = self.instance.code or self.cleaned_data.get("code")
        if any(dependency.code == code for dependency in depends_on):
            raise forms.ValidationError(f"{code} cannot depend on itself.")
        cycle = dependency_cycle(code, [dependency.code for dependency in depends_on]) if code else []
        if cycle:
            raise forms.ValidationError(f"A dependency loop: {' → '.join(cycle)}. A service cannot wait, even "
                                        "through others, for itself.")
        return depends_on


@admin.register(ServiceSpecification)
class ServiceSpecificationAdmin(_FrozenVersionAdmin):
    form = ServiceSpecificationForm
    list_display = ("code", "version", "name", "som", "max_retries", "failure_policy", "shareable", "reversible",
                    "frozen")
    list_filter = ("som", "failure_policy")
    search_fields = ("code", "name")
    filter_horizontal = ("depends_on",)
    actions = ["create_new_version"]

    def get_queryset(self, request):
        # ``in_use`` as one annotation of the list's query, not two queries per row.
        order_items = apps.get_model("orders", "ServiceOrderItem")
        return super().get_queryset(request).annotate(frozen_annotated=Exists(
            DecompositionRule.objects.filter(service_specification=OuterRef("pk"),
                                             specification__order_items__isnull=False)
        ) | Exists(order_items.objects.filter(service_specification=OuterRef("pk"))))

    @admin.display(boolean=True, description="in use (frozen)")
    def frozen(self, obj):
        return obj.frozen_annotated

    def get_readonly_fields(self, request, obj=None):
        # The code and version name the row: a new version is made by the action, never by renumbering.
        return ("code", "version") if obj else ("version",)

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        try:
            services.update_service_specification(
                specification=obj, actor_name=request.user.get_username(),
                changes={name: form.cleaned_data[name] for name in form.changed_data
                         if name in services.SERVICE_SETTINGS},
                depends_on=([d.code for d in form.cleaned_data["depends_on"]] if "depends_on" in form.changed_data
                            else None))
        except ComError as error:
            # The service changed nothing (its transaction rolled back): say why, and neither log a change nor
            # announce one (``log_change``, ``response_change``).
            request._catalog_refused = True
            self.message_user(request, error.message, level=messages.ERROR)

    def log_change(self, request, obj, message):
        if not getattr(request, "_catalog_refused", False):
            return super().log_change(request, obj, message)
        return None

    def response_change(self, request, obj):
        if getattr(request, "_catalog_refused", False):
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def save_related(self, request, form, formsets, change):
        if not change:  # on a change, update_service_specification has set the dependencies
            super().save_related(request, form, formsets, change)

    def has_revise_permission(self, request):
        # A new CFS version makes new product specification versions and repoints offerings too.
        return request.user.has_perms(["catalog.add_servicespecification", "catalog.add_productspecification",
                                        "catalog.change_productoffering"])

    @admin.action(description="Create a new version", permissions=["revise"])
    def create_new_version(self, request, queryset):
        revised = _each(self, request, sorted(set(queryset.values_list("code", flat=True))),
                        lambda code: services.revise_service_specification(
                            code=code, actor_name=request.user.get_username()))
        if revised:
            self.message_user(request, "Created " + "; ".join(str(revision) for revision in revised)
                              + ". The offerings that sold the old versions now sell the new ones; orders already "
                                "captured keep the versions they were captured with.")


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
class ProductSpecificationAdmin(_FrozenVersionAdmin):
    list_display = ("spec_id", "version", "name", "lifecycle_status", "requires_place", "requires_appointment",
                    "last_update")
    list_filter = ("lifecycle_status",)
    search_fields = ("spec_id", "name")
    inlines = [CharacteristicInline, DecompositionRuleInline]
    actions = ["create_new_version"]

    def has_revise_permission(self, request):
        # A new version repoints the offerings that sold the old one, as a new CFS version does.
        return request.user.has_perms(["catalog.add_productspecification", "catalog.change_productoffering"])

    @admin.action(description="Create a new version", permissions=["revise"])
    def create_new_version(self, request, queryset):
        created = _each(self, request, list(queryset), lambda spec: services.revise_specification(
            specification=spec, actor_name=request.user.get_username()))
        if created:
            self.message_user(request, "Created " + ", ".join(str(spec) for spec in created)
                              + "; the offerings that sold the old versions now sell them.")


class PriceInline(_FrozenWhenInUse, admin.TabularInline):
    """An offering's prices: view only once an order item was captured against its current version."""

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
