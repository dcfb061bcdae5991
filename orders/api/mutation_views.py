"""TMF622 task resources that change an order in flight: ``cancelProductOrder`` and ``amendProductOrder``.

POST records a mutation request (201, or 200 for a replay of the same Idempotency-Key) and answers with its
decision: done, waiting for a supervisor, or refused (terminatedWithError, with the reason). ``?dryRun=true``
answers 200 with the impact preview and records nothing. ``If-Match`` (or ``expectedOrderVersion``) names
the order version the requester saw: 412 if the order has moved on and the decision would now differ.
"""
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from comapp.errors import ComError, NotFound, ValidationFailed
from comapp.openapi import READ_ERRORS, WRITE_ERRORS, error_responses
from comapp.tmf import paged_response, single_response
from orders import selectors
from orders.services.mutations import request_mutation

from . import mappers
from .mutation_representations import amend_product_order, cancel_product_order, preview
from .mutation_serializers import AmendProductOrderCreateSerializer, CancelProductOrderCreateSerializer
from .schemas import (
    AMEND_PRODUCT_ORDER,
    AMEND_PRODUCT_ORDER_LIST,
    CANCEL_PRODUCT_ORDER,
    CANCEL_PRODUCT_ORDER_LIST,
    MUTATION_PREVIEW,
)
from .views import _actor, _body

TASK_FIELDS = {"id", "href", "state", "productOrder", "creationDate", "completionDate", "reasonCode",
               "customerConsentRef", "productOrderItem", "decision", "impact", "cancellationReason",
               "requestedCancellationDate", "effectiveCancellationDate", "kind", "reason", "replacementOrder",
               "@type"}
TASK_SORT = {"id": "id", "creationDate": "created_at", "state": "state"}
_CANCEL = OpenApiResponse(CANCEL_PRODUCT_ORDER, description="The cancellation: its state, decision and impact")
_CANCELS = OpenApiResponse(CANCEL_PRODUCT_ORDER_LIST, description="cancelProductOrder tasks")
_AMEND = OpenApiResponse(AMEND_PRODUCT_ORDER, description="The change: its state, decision and impact")
_AMENDS = OpenApiResponse(AMEND_PRODUCT_ORDER_LIST, description="amendProductOrder tasks")
_PREVIEW = OpenApiResponse(MUTATION_PREVIEW, description="dryRun=true: the impact preview (201/200 otherwise)")
_COMMON_PARAMETERS = [
    OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER,
                     description="The same key returns the same request (a different body is a 409)."),
    OpenApiParameter("If-Match", str, OpenApiParameter.HEADER,
                     description='The order version seen (its ETag, W/"<version>"): 412 if the decision changed.'),
    OpenApiParameter("dryRun", bool, description="true: answer the impact preview, record nothing."),
]


def _if_match_version(request) -> int | None:
    header = (request.headers.get("If-Match") or "").strip()
    if not header or header == "*":
        return None
    digits = header.removeprefix("W/").strip('"')
    if not digits.isdigit():
        raise ValidationFailed('If-Match must be an ETag of the order (W/"<version>")')
    return int(digits)


class _TaskListCreate(APIView):
    kind = ""
    serializer_class = None
    to_draft = None
    render = None

    def _create(self, request):
        body = _body(request)
        serializer = self.serializer_class(data=body)
        serializer.is_valid(raise_exception=True)
        order = selectors.order_changeable_by(request.user, serializer.validated_data["productOrder"]["id"])
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and not (0 < len(key) <= 200):
            raise ValidationFailed("Idempotency-Key must be 1 to 200 characters.")
        draft = type(self).to_draft(serializer.validated_data, idempotency_key=key,
                                    expected_version=_if_match_version(request), body=body)
        dry_run = request.query_params.get("dryRun", "").lower() in ("true", "1")
        try:
            result, created = request_mutation(order_id=order.pk, draft=draft, actor=_actor(request),
                                               user=None if getattr(request.user, "channel", None) else request.user,
                                               dry_run=dry_run)
        except ComError as error:
            raise mappers.to_tmf_error(error) from error
        if dry_run:
            return Response(preview(result, order.pk, request), status=200)
        data = type(self).render(result, request)
        return Response(data, status=201 if created else 200, headers={"Location": data["href"]})

    def _list(self, request):
        queryset = selectors.mutations_visible_to(request.user, kind=self.kind)
        return paged_response(request, queryset, lambda m: type(self).render(m, request), allowed_fields=TASK_FIELDS,
                              sortable=TASK_SORT)


class CancelProductOrderListCreateApi(_TaskListCreate):
    kind = "cancellation"
    serializer_class = CancelProductOrderCreateSerializer
    to_draft = staticmethod(mappers.cancellation_draft)
    render = staticmethod(cancel_product_order)

    @extend_schema(operation_id="createCancelProductOrder", request=CancelProductOrderCreateSerializer,
                   parameters=_COMMON_PARAMETERS,
                   responses={201: _CANCEL, 200: _PREVIEW, **error_responses(*WRITE_ERRORS, 412)})
    def post(self, request):
        return self._create(request)

    @extend_schema(operation_id="listCancelProductOrder", responses={200: _CANCELS, 206: _CANCELS,
                                                                      **error_responses(*READ_ERRORS)})
    def get(self, request):
        return self._list(request)


class AmendProductOrderListCreateApi(_TaskListCreate):
    kind = "change"
    serializer_class = AmendProductOrderCreateSerializer
    to_draft = staticmethod(mappers.amendment_draft)
    render = staticmethod(amend_product_order)

    @extend_schema(operation_id="createAmendProductOrder", request=AmendProductOrderCreateSerializer,
                   parameters=_COMMON_PARAMETERS,
                   responses={201: _AMEND, 200: _PREVIEW, **error_responses(*WRITE_ERRORS, 412)})
    def post(self, request):
        return self._create(request)

    @extend_schema(operation_id="listAmendProductOrder", responses={200: _AMENDS, 206: _AMENDS,
                                                                     **error_responses(*READ_ERRORS)})
    def get(self, request):
        return self._list(request)


class CancelProductOrderDetailApi(APIView):
    @extend_schema(operation_id="retrieveCancelProductOrder", responses={200: _CANCEL, **error_responses(*READ_ERRORS)})
    def get(self, request, mutation_id):
        mutation = selectors.mutations_visible_to(request.user, kind="cancellation").filter(pk=mutation_id).first()
        if mutation is None:
            raise NotFound(f"No cancelProductOrder {mutation_id}")
        return single_response(request, cancel_product_order(mutation, request), allowed_fields=TASK_FIELDS)


class AmendProductOrderDetailApi(APIView):
    @extend_schema(operation_id="retrieveAmendProductOrder", responses={200: _AMEND, **error_responses(*READ_ERRORS)})
    def get(self, request, mutation_id):
        mutation = selectors.mutations_visible_to(request.user, kind="change").filter(pk=mutation_id).first()
        if mutation is None:
            raise NotFound(f"No amendProductOrder {mutation_id}")
        return single_response(request, amend_product_order(mutation, request), allowed_fields=TASK_FIELDS)
