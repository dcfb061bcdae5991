"""Routes. Every TMF route works with and without a trailing slash (no redirect, so POST is never lost)."""
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("tmf-api/productOrderingManagement/v4/", include("orders.api.urls")),
    path("tmf-api/serviceOrdering/v4/", include("orders.api.listener_urls")),
    path("tmf-api/productCatalogManagement/v4/", include("catalog.api.urls")),
    path("tmf-api/productInventory/v4/", include("inventory.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

handler404 = "comapp.views.not_found"
handler500 = "comapp.views.server_error"
