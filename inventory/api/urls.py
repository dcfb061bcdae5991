"""TMF637 routes, with and without a trailing slash."""
from django.urls import re_path

from inventory.api.views import ProductDetailApi, ProductListApi

app_name = "tmf637"

urlpatterns = [
    re_path(r"^product/?$", ProductListApi.as_view(), name="product-list"),
    re_path(r"^product/(?P<product_id>[^/]+)/?$", ProductDetailApi.as_view(), name="product-detail"),
]
