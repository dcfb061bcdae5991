"""Product inventory admin: view only. Products change only through COM's fulfilment services."""
from django.contrib import admin

from comapp.history_admin import ReadOnlyHistoryAdmin
from inventory.models import Product


@admin.register(Product)
class ProductAdmin(ReadOnlyHistoryAdmin):
    list_display = ("id", "name", "customer_id", "status", "product_offering", "version", "created_at")
    list_filter = ("status", "product_offering")
    search_fields = ("id", "customer_id", "name")
    list_select_related = ("product_offering",)
    readonly_fields = [field.name for field in Product._meta.fields]

    def has_add_permission(self, request):
        return False

    # The history form refuses POST for everyone (ReadOnlyHistoryAdmin): this alone would not stop a revert.
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
