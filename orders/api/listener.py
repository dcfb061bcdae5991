"""TMF641 listener: SOM posts its events here (every TMF641 v4/v4.1 event type, and any other it may send).

Authenticated by the signature of the body (``X-Signature: t=...,sha256=...``) with the secret of the SOM
the event's service order was sent to, not by a user. The answer is fast: the event is stored once and
applied by a task. An event type COM has nothing to do with is stored and acknowledged, not refused.
"""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from orders.services.som_events import receive_som_event


class ServiceOrderEventListenerApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(operation_id="listenServiceOrderEvent", request=OpenApiTypes.OBJECT,
                   responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 401: OpenApiTypes.OBJECT})
    def post(self, request, event_type=""):
        event, created = receive_som_event(body=request.body, signature=request.headers.get("X-Signature"),
                                           path_event_type=event_type)
        return Response({"eventId": event.event_id, "accepted": created, "status": event.status}, status=201)


class ServiceOrderEventCallbackApi(ServiceOrderEventListenerApi):
    """The listener's base URL, for a SOM that posts every event to the one callback it was given."""

    @extend_schema(operation_id="listenServiceOrderEvents", request=OpenApiTypes.OBJECT,
                   responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT, 401: OpenApiTypes.OBJECT})
    def post(self, request, event_type=""):
        return super().post(request, event_type)
