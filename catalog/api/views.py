"""TMF620 Product Catalog views: read-only for any authenticated caller, each a thin shell over a selector."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.views import APIView

from catalog.api.representations import (
    OFFERING_FIELDS,
    SPECIFICATION_FIELDS,
    product_offering,
    product_specification,
)
from catalog.selectors import (
    latest_specification,
    offering_detail,
    offering_list,
    specification_list,
    specification_version,
)
from comapp.openapi import READ_ERRORS, error_responses, sort_parameter
from comapp.tmf import filter_params, paged_response, parse_int_param, single_response

_TAG = ["TMF620 Product Catalog"]
_FIELDS = OpenApiParameter("fields", str, description="Comma-separated attributes to return.")
_PAGING = [
    OpenApiParameter("offset", int, description="Index of the first resource of the page."),
    OpenApiParameter("limit", int, description="Number of resources in the page."),
]
_LIST = {"type": "array", "items": {"type": "object"}}
_ERRORS = error_responses(*READ_ERRORS)
# sort=: TMF attribute -> model field.
OFFERING_SORT = {"id": "offering_id", "name": "name", "lifecycleStatus": "lifecycle_status",
                 "lastUpdate": "last_update", "category": "category"}
SPECIFICATION_SORT = {"id": "spec_id", "name": "name", "lifecycleStatus": "lifecycle_status",
                      "lastUpdate": "last_update", "brand": "brand"}


class ProductOfferingListApi(APIView):
    @extend_schema(
        operation_id="listProductOffering",
        tags=_TAG,
        summary="List product offerings",
        parameters=[
            _FIELDS, *_PAGING,
            OpenApiParameter("lifecycleStatus", str, description="inDesign, active or retired; comma-separated "
                                                                 "for several."),
            OpenApiParameter("name", str, description="Exact offering name."),
            OpenApiParameter("category", str, description="Category name, e.g. residential or business."),
            sort_parameter(OFFERING_SORT),
        ],
        responses={
            200: OpenApiResponse(_LIST, description="TMF620 ProductOfferings: the whole result"),
            206: OpenApiResponse(_LIST, description="TMF620 ProductOfferings: one page of the result"),
            **_ERRORS,
        },
    )
    def get(self, request):
        offerings = offering_list(filters=filter_params(request))
        return paged_response(request, offerings, lambda row: product_offering(row, request),
                              allowed_fields=OFFERING_FIELDS, sortable=OFFERING_SORT)


class ProductOfferingDetailApi(APIView):
    @extend_schema(
        operation_id="retrieveProductOffering",
        tags=_TAG,
        summary="Retrieve a product offering by id",
        parameters=[_FIELDS],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="TMF620 ProductOffering"), **_ERRORS},
    )
    def get(self, request, offering_id: str):
        offering = offering_detail(offering_id=offering_id)
        return single_response(request, product_offering(offering, request), allowed_fields=OFFERING_FIELDS)


class ProductSpecificationListApi(APIView):
    @extend_schema(
        operation_id="listProductSpecification",
        tags=_TAG,
        summary="List product specifications, each at its latest version",
        parameters=[
            _FIELDS, *_PAGING,
            OpenApiParameter("lifecycleStatus", str, description="inDesign, active or retired; comma-separated "
                                                                 "for several."),
            OpenApiParameter("name", str, description="Exact specification name."),
            sort_parameter(SPECIFICATION_SORT),
        ],
        responses={
            200: OpenApiResponse(_LIST, description="TMF620 ProductSpecifications: the whole result"),
            206: OpenApiResponse(_LIST, description="TMF620 ProductSpecifications: one page of the result"),
            **_ERRORS,
        },
    )
    def get(self, request):
        specifications = specification_list(filters=filter_params(request))
        return paged_response(request, specifications, lambda row: product_specification(row, request),
                              allowed_fields=SPECIFICATION_FIELDS, sortable=SPECIFICATION_SORT)


class ProductSpecificationDetailApi(APIView):
    @extend_schema(
        operation_id="retrieveProductSpecification",
        tags=_TAG,
        summary="Retrieve a product specification by id: its latest version, or the one asked for",
        parameters=[_FIELDS, OpenApiParameter("version", int, description="Version to return; latest if absent.")],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="TMF620 ProductSpecification"),
                   **_ERRORS},
    )
    def get(self, request, spec_id: str):
        version = parse_int_param(request, "version", 0, minimum=1)
        specification = (specification_version(spec_id=spec_id, version=version) if version
                         else latest_specification(spec_id=spec_id))
        return single_response(request, product_specification(specification, request),
                               allowed_fields=SPECIFICATION_FIELDS)
