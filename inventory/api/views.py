"""TMF637 Product Inventory views: read-only, each a thin shell over a selector and a representation."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.views import APIView

from comapp.tmf import filter_params, paged_response, single_response
from inventory.api.representations import PRODUCT_FIELDS, product
from inventory.selectors import product_detail, product_list

_FIELDS = OpenApiParameter("fields", str, description="Comma-separated attributes to return.")
_TAG = ["TMF637 Product Inventory"]
_PRODUCTS = {"type": "array", "items": {"type": "object"}}
_ERROR = OpenApiResponse(OpenApiTypes.OBJECT, description="TMF Error")


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
            OpenApiParameter("productOffering.id", str, description="Product offering id."),
        ],
        responses={
            200: OpenApiResponse(_PRODUCTS, description="TMF637 Products: the whole result"),
            206: OpenApiResponse(_PRODUCTS, description="TMF637 Products: one page of the result"),
            400: _ERROR,
            401: _ERROR,
        },
    )
    def get(self, request):
        products = product_list(user=request.user, filters=filter_params(request))
        return paged_response(request, products, lambda row: product(row, request), allowed_fields=PRODUCT_FIELDS)


class ProductDetailApi(APIView):
    @extend_schema(
        operation_id="retrieveProduct",
        tags=_TAG,
        summary="Retrieve a product by id",
        parameters=[_FIELDS],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="TMF637 Product"), 400: _ERROR,
                   401: _ERROR, 404: _ERROR},
    )
    def get(self, request, product_id: str):
        found = product_detail(user=request.user, product_id=product_id)
        return single_response(request, product(found, request), allowed_fields=PRODUCT_FIELDS)
