"""TMF622 routes, each with and without a trailing slash."""
from django.urls import re_path

from . import mutation_views, views

app_name = "tmf622"
urlpatterns = [
    re_path(r"^productOrder/?$", views.ProductOrderListCreateApi.as_view(), name="order-list"),
    re_path(r"^productOrder/(?P<order_id>[^/]+)/?$", views.ProductOrderDetailApi.as_view(), name="order-detail"),
    re_path(r"^productOrder/(?P<order_id>[^/]+)/version/?$", views.ProductOrderVersionListApi.as_view(),
            name="order-versions"),
    re_path(r"^productOrder/(?P<order_id>[^/]+)/version/(?P<version>[^/]+)/?$", views.ProductOrderVersionApi.as_view(),
            name="order-version"),
    re_path(r"^productOrder/(?P<order_id>[^/]+)/version/(?P<version>[^/]+)/diff/?$",
            views.ProductOrderVersionDiffApi.as_view(), name="order-version-diff"),
    re_path(r"^cancelProductOrder/?$", mutation_views.CancelProductOrderListCreateApi.as_view(), name="cancel-list"),
    re_path(r"^cancelProductOrder/(?P<mutation_id>[^/]+)/?$", mutation_views.CancelProductOrderDetailApi.as_view(),
            name="cancel-detail"),
    re_path(r"^amendProductOrder/?$", mutation_views.AmendProductOrderListCreateApi.as_view(), name="amend-list"),
    re_path(r"^amendProductOrder/(?P<mutation_id>[^/]+)/?$", mutation_views.AmendProductOrderDetailApi.as_view(),
            name="amend-detail"),
    re_path(r"^hub/?$", views.HubCreateApi.as_view(), name="hub"),
    re_path(r"^hub/(?P<subscription_id>[^/]+)/?$", views.HubDeleteApi.as_view(), name="hub-detail"),
]
