"""TMF622 routes, each with and without a trailing slash."""
from django.urls import re_path

from . import views

app_name = "tmf622"
urlpatterns = [
    re_path(r"^productOrder/?$", views.ProductOrderListCreateApi.as_view(), name="order-list"),
    re_path(r"^productOrder/(?P<order_id>[^/]+)/?$", views.ProductOrderDetailApi.as_view(), name="order-detail"),
    re_path(r"^hub/?$", views.HubCreateApi.as_view(), name="hub"),
    re_path(r"^hub/(?P<subscription_id>[^/]+)/?$", views.HubDeleteApi.as_view(), name="hub-detail"),
]
