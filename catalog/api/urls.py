"""TMF620 routes, with and without a trailing slash."""
from django.urls import re_path

from catalog.api.views import (
    ProductOfferingDetailApi,
    ProductOfferingListApi,
    ProductSpecificationDetailApi,
    ProductSpecificationListApi,
)

app_name = "tmf620"

urlpatterns = [
    re_path(r"^productOffering/?$", ProductOfferingListApi.as_view(), name="productOffering-list"),
    re_path(r"^productOffering/(?P<offering_id>[^/]+)/?$", ProductOfferingDetailApi.as_view(),
            name="productOffering-detail"),
    re_path(r"^productSpecification/?$", ProductSpecificationListApi.as_view(), name="productSpecification-list"),
    re_path(r"^productSpecification/(?P<spec_id>[^/]+)/?$", ProductSpecificationDetailApi.as_view(),
            name="productSpecification-detail"),
]
