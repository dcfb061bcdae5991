"""TMF637 Product Inventory views: read-only, each a thin shell over a selector and a representation."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.views import APIView

from comapp.errors import Forbidden
from comapp.openapi import READ_ERRORS, error_responses, sort_parameter
from comapp.tmf import filter_params, paged_response, single_response
from inventory.api.representations import PRODUCT_FIELDS, product
from inventory.selectors import PRODUCT_VIEW_PERMISSION, may_read_products, product_detail, product_list

_FIELDS = OpenApiParameter("fields", str, description="Comma-separated attributes to return.")
_TAG = ["TMF637 Product Inventory"]
_PRODUCTS = {"type": "array", "items": {"type": "object"}}
_ERRORS = error_responses(*READ_ERRORS)
# sort=: TMF attribute -> inventory Product field.
PRODUCT_SORT = {"id": "id", "name": "name", "status": "status", "orderDate": "order_date",
                "startDate": "start_date", "terminationDate": "termination_date"}


def _require_read(request) -> None:
    if not may_read_products(request.user):
        raise Forbidden(f"Reading products needs a channel's token or the permission {PRODUCT_VIEW_PERMISSION}.")


class ProductListApi(APIView):
    @extend_schema(
        operation_id="listProduct",
        tags=_TAG,
        summary="List the products the caller may see",
        parameters=[
            _FIELDS,
            OpenApiParameter("offset", int, description="Index of the first product of the page."),
            OpenApiParameter("limit", int, description="Number of products in the page."),
            OpenApiParameter("relatedParty.id", str, description="The customer's party id."),
            OpenApiParameter("status", str, description="Product status; comma-separated for several."),
            OpenApiParameter("id", str, description="Product id; comma-separated for several."),
            OpenApiParameter("productOffering.id", str, description="Product offering id."),
            sort_parameter(PRODUCT_SORT),
        ],
        responses={
            200: OpenApiResponse(_PRODUCTS, description="TMF637 Products: the whole result"),
            206: OpenApiResponse(_PRODUCTS, description="TMF637 Products: one page of the result"),
            **_ERRORS,
        },
    )
    def get(self, request):
        _require_read(request)
        products = product_list(user=request.user, filters=filter_params(request))
        return paged_response(request, products, lambda row: product(row, request), allowed_fields=PRODUCT_FIELDS,
                              sortable=PRODUCT_SORT)


class ProductDetailApi(APIView):
    @extend_schema(
        operation_id="retrieveProduct",
        tags=_TAG,
        summary="Retrieve a product by id",
        parameters=[_FIELDS],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="TMF637 Product"), **_ERRORS},
    )
    def get(self, request, product_id: str):
        _require_read(request)
        found = product_detail(user=request.user, product_id=product_id)
        return single_response(request, product(found, request), allowed_fields=PRODUCT_FIELDS)
