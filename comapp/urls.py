"""Routes. Every TMF route works with and without a trailing slash (no redirect, so POST is never lost)."""
from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView



class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico on pages that name no icon (error pages, the API's): send them to ours."""

    permanent = False

    def get_redirect_url(self, *args, **kwargs):
        return static("orders/favicon.svg")


urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("favicon.ico", FaviconView.as_view()),
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
