"""TMF622 Product Ordering views: thin. Parse, call a service or selector, render."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from comapp.errors import ComError, Forbidden, ValidationFailed
from comapp.openapi import READ_ERRORS, WRITE_ERRORS, error_responses, sort_parameter
from comapp.parsers import MergePatchJSONParser
from comapp.tmf import (
    absolute_url,
    etag,
    expected_version,
    filter_params,
    iso,
    paged_response,
    parse_date_param,
    single_response,
)
from orders import history, selectors
from orders.integrations.tmf622 import ORDER_FIELDS, order_href, product_order
from orders.services import notifications
from orders.services.capture import capture_order
from orders.services.updates import update_order_attributes

from . import mappers
from .schemas import (
    HUB,
    PRODUCT_ORDER,
    PRODUCT_ORDER_LIST,
    PRODUCT_ORDER_VERSION_DIFF,
    PRODUCT_ORDER_VERSION_LIST,
)
from .serializers import HubSerializer, ProductOrderCreateSerializer, ProductOrderUpdateSerializer
from .versions import VERSION_FIELDS, diff, version_entry

# sort=: TMF attribute -> ProductOrder field.
ORDER_SORT = {
    "id": "id",
    "orderDate": "order_date",
    "priority": "priority",
    "state": "state",
    "externalId": "external_id",
    "category": "category",
    "requestedStartDate": "requested_start_date",
    "requestedCompletionDate": "requested_completion_date",
    "completionDate": "completion_date",
}
_ORDER = OpenApiResponse(PRODUCT_ORDER, description="TMF622 ProductOrder")


def _etag_header(*statuses: int) -> OpenApiParameter:
    return OpenApiParameter("ETag", str, OpenApiParameter.HEADER, response=list(statuses),
                            description='W/"<version>": the version of the order (current, or the one represented)')


_IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER,
    description='Optional. The ETag of the order as read (W/"<version>"): the change applies only to that version, '
                'else 412 and nothing changes. Absent or * applies it to the current version.')
_AS_OF = OpenApiParameter(
    "asOf", OpenApiTypes.DATETIME,
    description="Read the order and its items as they were at this date-time (ISO 8601); 404 before the order "
                "existed.")
_VERSION = OpenApiParameter("version", int, OpenApiParameter.PATH, description="An order version (see .../version).")

# PATCH may not touch these: each is a business command of its own.
PATCH_REFUSED = {
    "state": "the state moves only through commands: request a cancellation with POST cancelProductOrder",
    "productOrderItem": "items cannot be edited in place: change an existing product with a new productOrder "
                        "whose items have action modify or delete (an in-flight amendment needs supervisor "
                        "approval)",
    "relatedParty": "the customer of an order cannot be changed: cancel it and submit a new order",
    "requestedStartDate": "rescheduling is an amendment: it cannot be made with PATCH",
    "requestedCompletionDate": "rescheduling is an amendment: it cannot be made with PATCH",
    "externalId": "the externalId identifies the order for its channel and cannot change",
    "channel": "the channel of an order is the one that submitted it",
    "billingAccount": "billing changes are a change order",
}
READ_ONLY = ("id", "href", "orderDate", "completionDate", "expectedCompletionDate", "cancellationDate",
             "cancellationReason", "@type", "@baseType", "@schemaLocation")


def _channel_of(request):
    channel = getattr(request.user, "channel", None) if request.user else None
    if channel is None:
        raise PermissionDenied("Orders are submitted and changed by a channel; authenticate with its Bearer token.")
    return channel


def _require_read(request) -> None:
    if not selectors.may_read_orders(request.user):
        raise Forbidden(f"Reading orders needs a channel's token or the permission "
                        f"{selectors.ORDER_VIEW_PERMISSION}.")


def _actor(request) -> str:
    channel = getattr(request.user, "channel", None)
    return f"channel:{channel.name}" if channel else f"user:{request.user.username}"


def _body(request) -> dict:
    if not isinstance(request.data, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    return request.data


class ProductOrderListCreateApi(APIView):
    @extend_schema(
        operation_id="listProductOrder",
        parameters=[OpenApiParameter("fields", str), OpenApiParameter("offset", int), OpenApiParameter("limit", int),
                    OpenApiParameter("state", str), OpenApiParameter("externalId", str),
                    OpenApiParameter("relatedParty.id", str), OpenApiParameter("orderDate.gte", str),
                    OpenApiParameter("orderDate.lte", str), sort_parameter(ORDER_SORT)],
        responses={200: OpenApiResponse(PRODUCT_ORDER_LIST, description="TMF622 ProductOrders: the whole result"),
                   206: OpenApiResponse(PRODUCT_ORDER_LIST, description="TMF622 ProductOrders: one page"),
                   **error_responses(*READ_ERRORS)},
    )
    def get(self, request):
        _require_read(request)
        queryset = selectors.filter_orders(selectors.orders_visible_to(request.user), filter_params(request))
        return paged_response(request, queryset, lambda order: product_order(order, request),
                              allowed_fields=ORDER_FIELDS, sortable=ORDER_SORT)

    @extend_schema(operation_id="createProductOrder", request=ProductOrderCreateSerializer,
                   parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER),
                               _etag_header(201)],
                   responses={201: _ORDER, **error_responses(*WRITE_ERRORS)})
    def post(self, request):
        channel = _channel_of(request)
        body = _body(request)
        serializer = ProductOrderCreateSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and not (0 < len(key) <= 200):
            raise ValidationFailed("Idempotency-Key must be 1 to 200 characters.")
        try:
            order, _created = capture_order(channel=channel, draft=mappers.order_draft(serializer.validated_data),
                                            idempotency_key=key, fingerprint=mappers.fingerprint(body))
        except ComError as error:
            raise mappers.to_tmf_error(error) from error
        order = selectors.order_for(request.user, order.pk)
        data = product_order(order, request)
        return Response(data, status=201, headers={"Location": data["href"], "ETag": etag(order.version)})


class ProductOrderDetailApi(APIView):
    # TMF630: PATCH is a JSON merge patch; application/json is taken as the same.
    parser_classes = [JSONParser, MergePatchJSONParser]

    @extend_schema(operation_id="retrieveProductOrder",
                   parameters=[OpenApiParameter("fields", str), _AS_OF, _etag_header(200)],
                   responses={200: _ORDER, **error_responses(*READ_ERRORS)})
    def get(self, request, order_id):
        _require_read(request)
        if "asOf" in request.query_params:
            when = parse_date_param("asOf", request.query_params["asOf"])
            return _past_response(request, history.order_as_of(history.visible_order(request.user, order_id), when))
        order = selectors.order_for(request.user, order_id)
        return single_response(request, product_order(order, request), allowed_fields=ORDER_FIELDS,
                               headers={"ETag": etag(order.version)})

    @extend_schema(operation_id="patchProductOrder", request=ProductOrderUpdateSerializer,
                   parameters=[_IF_MATCH, _etag_header(200, 412)],
                   responses={200: _ORDER, **error_responses(*WRITE_ERRORS, 412)})
    def patch(self, request, order_id):
        _channel_of(request)
        order = selectors.order_to_change(request.user, order_id)
        if "asOf" in request.query_params:
            raise ValidationFailed("asOf reads a past version; PATCH changes the current order: send it without asOf.")
        expected = expected_version(request.headers.get("If-Match"))
        body = _body(request)
        refused = []
        for name, value in body.items():
            if name == "productOrderItem" and value == []:
                continue  # TMF622 v4 marks it required in the PATCH body; an empty list changes nothing
            if name in PATCH_REFUSED:
                refused.append(f"{name}: {PATCH_REFUSED[name]}")
            elif name in READ_ONLY:
                refused.append(f"{name}: is set by COM")
        unknown = [n for n in body if n not in PATCH_REFUSED and n not in READ_ONLY
                   and n not in ProductOrderUpdateSerializer().fields]
        refused += [f"{n}: not an attribute of a product order" for n in unknown]
        if refused:
            raise ValidationFailed("; ".join(refused), code="PATCH_NOT_ALLOWED")
        body = {k: v for k, v in body.items() if k != "productOrderItem"}
        serializer = ProductOrderUpdateSerializer(data=body, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            update_order_attributes(order=order, changes=mappers.order_changes(serializer.validated_data),
                                    actor=_actor(request), expected_version=expected)
        except ComError as error:
            raise mappers.to_tmf_error(error) from error
        order = selectors.order_for(request.user, order_id)
        return Response(product_order(order, request), headers={"ETag": etag(order.version)})


# --- an order's past: read only (GET), visible as GET productOrder/{id} is -----------------------------------

def _past_response(request, past: history.PastOrder):
    data = product_order(past.order, request, items=past.items)
    return single_response(request, data, allowed_fields=ORDER_FIELDS, headers={"ETag": etag(past.version)})


def _version_number(raw: str, name: str) -> int:
    if not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
        raise ValidationFailed(f"{name}: an order version is a positive integer, got {raw[:20]!r}.")
    return int(raw)


class ProductOrderVersionListApi(APIView):
    @extend_schema(
        operation_id="listProductOrderVersion",
        description="The versions of a product order its history holds, oldest first: when, who, why, and the "
                    "business events recorded at each.",
        parameters=[OpenApiParameter("fields", str), OpenApiParameter("offset", int), OpenApiParameter("limit", int)],
        responses={200: OpenApiResponse(PRODUCT_ORDER_VERSION_LIST, description="Every version"),
                   206: OpenApiResponse(PRODUCT_ORDER_VERSION_LIST, description="One page of the versions"),
                   **error_responses(*READ_ERRORS)},
    )
    def get(self, request, order_id):
        order = history.visible_order(request.user, order_id)
        staff = bool(request.user and request.user.is_staff)
        return paged_response(request, history.order_versions(order),
                              lambda v: version_entry(order.pk, v, request, staff=staff), allowed_fields=VERSION_FIELDS)


class ProductOrderVersionApi(APIView):
    @extend_schema(operation_id="retrieveProductOrderVersion",
                   description="The product order and its items as they were at this version.",
                   parameters=[_VERSION, OpenApiParameter("fields", str), _etag_header(200)],
                   responses={200: _ORDER, **error_responses(*READ_ERRORS)})
    def get(self, request, order_id, version):
        number = _version_number(version, "version")
        return _past_response(request, history.order_at_version(history.visible_order(request.user, order_id),
                                                                 number))


class ProductOrderVersionDiffApi(APIView):
    @extend_schema(
        operation_id="diffProductOrderVersion",
        description="What differs between version `from` and this version, attribute by attribute, computed on "
                    "their TMF622 representations.",
        parameters=[_VERSION, OpenApiParameter("from", int, description="The version to compare with; default: the "
                                                                        "version before this one.")],
        responses={200: OpenApiResponse(PRODUCT_ORDER_VERSION_DIFF, description="The differences"),
                   **error_responses(*READ_ERRORS)},
    )
    def get(self, request, order_id, version):
        order = history.visible_order(request.user, order_id)
        number = _version_number(version, "version")
        if "from" in request.query_params:
            start = _version_number(request.query_params["from"], "from")
        else:
            start = history.previous_version(order, number)
            if start is None:
                history.order_at_version(order, number)  # a version that does not exist is a 404
                raise ValidationFailed(f"Version {number} is the first version of order {order.pk}: name the "
                                       "version to compare it with in from=.")
        old, new = history.order_at_version(order, start), history.order_at_version(order, number)
        return Response({
            "productOrder": {"id": order.pk, "href": order_href(order.pk, request), "@referredType": "ProductOrder"},
            "fromVersion": start,
            "toVersion": number,
            "fromVersionDate": iso(old.recorded_at),
            "toVersionDate": iso(new.recorded_at),
            "change": diff(product_order(old.order, request, items=old.items),
                           product_order(new.order, request, items=new.items)),
            "@type": "ProductOrderVersionDiff",
        })


class HubCreateApi(APIView):
    @extend_schema(operation_id="registerListener", request=HubSerializer,
                   responses={201: OpenApiResponse(HUB, description="TMF622 EventSubscription"),
                              **error_responses(*WRITE_ERRORS)})
    def post(self, request):
        channel = _channel_of(request)
        serializer = HubSerializer(data=_body(request))
        serializer.is_valid(raise_exception=True)
        subscription = notifications.subscribe(channel=channel, callback=serializer.validated_data["callback"],
                                               query=serializer.validated_data.get("query", ""))
        data = {"id": str(subscription.pk), "callback": subscription.callback, "query": subscription.query}
        href = absolute_url(request, f"{request.path.rstrip('/')}/{subscription.pk}")
        return Response(data, status=201, headers={"Location": href})


class HubDeleteApi(APIView):
    @extend_schema(operation_id="unregisterListener", responses={204: None, **error_responses(*READ_ERRORS)})
    def delete(self, request, subscription_id):
        if not subscription_id.isdigit():
            raise ValidationFailed("A hub id is a number.")
        notifications.unsubscribe(channel=_channel_of(request), subscription_id=int(subscription_id))
        return Response(status=204)
