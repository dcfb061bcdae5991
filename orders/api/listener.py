"""TMF641 listener: SOM posts ServiceOrderStateChangeEvent / AttributeValueChangeEvent here.

Authenticated by the HMAC signature of the body (``X-Signature: sha256=...``), not by a user.
"""
import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from comapp.errors import ValidationFailed
from orders.services.som_events import receive_som_event, verify_signature


class ServiceOrderEventListenerApi(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(operation_id="listenServiceOrderEvent", request=OpenApiTypes.OBJECT,
                   responses={201: OpenApiTypes.OBJECT, 401: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT})
    def post(self, request, event_type):
        body = request.body
        verify_signature(body, request.headers.get("X-Signature"))
        try:
            payload = json.loads(body)
        except ValueError:
            raise ValidationFailed("The event body is not JSON.") from None
        if isinstance(payload, dict) and payload.get("eventType") and isinstance(payload["eventType"], str) and \
                payload["eventType"][0].lower() + payload["eventType"][1:] != event_type:
            raise ValidationFailed(f"eventType {payload['eventType']} posted to the {event_type} listener")
        event, created = receive_som_event(body=body, signature=request.headers.get("X-Signature"), payload=payload)
        return Response({"eventId": event.event_id, "accepted": created}, status=201)
