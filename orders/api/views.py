"""TMF622 Product Ordering views: thin. Parse, call a service or selector, render."""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from comapp.errors import ComError, ValidationFailed
from comapp.tmf import absolute_url, filter_params, paged_response, single_response
from orders import selectors
from orders.services import notifications
from orders.services.capture import capture_order
from orders.services.updates import update_order_attributes

from . import mappers
from .representations import ORDER_FIELDS, product_order
from .serializers import HubSerializer, ProductOrderCreateSerializer, ProductOrderUpdateSerializer

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
                    OpenApiParameter("orderDate.lte", str)],
        responses={200: OpenApiTypes.OBJECT, 206: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        queryset = selectors.filter_orders(selectors.orders_visible_to(request.user), filter_params(request))
        return paged_response(request, queryset, lambda order: product_order(order, request),
                              allowed_fields=ORDER_FIELDS)

    @extend_schema(operation_id="createProductOrder", request=ProductOrderCreateSerializer,
                   parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
                   responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 409: OpenApiTypes.OBJECT})
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
        return Response(data, status=201, headers={"Location": data["href"]})


class ProductOrderDetailApi(APIView):
    @extend_schema(operation_id="retrieveProductOrder", parameters=[OpenApiParameter("fields", str)],
                   responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT})
    def get(self, request, order_id):
        order = selectors.order_for(request.user, order_id)
        return single_response(request, product_order(order, request), allowed_fields=ORDER_FIELDS)

    @extend_schema(operation_id="patchProductOrder", request=ProductOrderUpdateSerializer,
                   responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT,
                              409: OpenApiTypes.OBJECT})
    def patch(self, request, order_id):
        order = selectors.order_for(request.user, order_id)
        _channel_of(request)
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
        update_order_attributes(order=order, changes=mappers.order_changes(serializer.validated_data),
                                actor=_actor(request))
        order = selectors.order_for(request.user, order_id)
        return Response(product_order(order, request))


class HubCreateApi(APIView):
    @extend_schema(operation_id="registerListener", request=HubSerializer, responses={201: OpenApiTypes.OBJECT})
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
    @extend_schema(operation_id="unregisterListener", responses={204: None, 404: OpenApiTypes.OBJECT})
    def delete(self, request, subscription_id):
        if not subscription_id.isdigit():
            raise ValidationFailed("A hub id is a number.")
        notifications.unsubscribe(channel=_channel_of(request), subscription_id=int(subscription_id))
        return Response(status=204)
