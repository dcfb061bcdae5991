"""TMF622 task resources that change an order in flight: request bodies (shape and types only).

``cancelProductOrder`` is TMF622's own (CancelProductOrder_Create); item-level cancellation names the items in
``productOrderItem`` (an extension TMF622 v4 allows: extra attributes are not forbidden). ``amendProductOrder``
follows the same task-resource pattern for corrections, amendments, reschedules and supersession.
"""
from django.conf import settings
from rest_framework import serializers

from .serializers import (
    CharacteristicSerializer,
    NoteSerializer,
    PlaceSerializer,
    ProductOrderCreateSerializer,
    RefSerializer,
)


class OrderRefSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=40)
    href = serializers.CharField(max_length=500, required=False)


class ItemRefSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=40)


class MutationCommonSerializer(serializers.Serializer):
    productOrder = OrderRefSerializer()
    reasonCode = serializers.CharField(max_length=60, required=False, default="CUSTOMER_REQUEST")
    customerConsentRef = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    expectedOrderVersion = serializers.IntegerField(min_value=1, required=False)


class CancelProductOrderCreateSerializer(MutationCommonSerializer):
    """TMF622 ``CancelProductOrder_Create``, plus ``productOrderItem`` to cancel some items only."""

    cancellationReason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    requestedCancellationDate = serializers.DateTimeField(required=False)
    productOrderItem = ItemRefSerializer(many=True, required=False, max_length=100)


class AmendedProductSerializer(serializers.Serializer):
    productCharacteristic = CharacteristicSerializer(many=True, required=False, max_length=50)
    place = PlaceSerializer(many=True, required=False, max_length=1)


class AmendedItemSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=40)
    quantity = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    productOffering = RefSerializer(required=False)
    product = AmendedProductSerializer(required=False)
    appointment = RefSerializer(required=False)


class AmendProductOrderCreateSerializer(MutationCommonSerializer):
    """A change to an order in flight: COM classifies it (correction, amendment, reschedule) and decides."""

    reason = serializers.CharField(max_length=500)
    notificationContact = serializers.CharField(max_length=200, required=False, allow_blank=True)
    description = serializers.CharField(max_length=settings.COM_MAX_DESCRIPTION_LENGTH, required=False,
                                        allow_blank=True)
    requestedStartDate = serializers.DateTimeField(required=False)
    requestedCompletionDate = serializers.DateTimeField(required=False)
    note = NoteSerializer(many=True, required=False, max_length=10)
    productOrderItem = AmendedItemSerializer(many=True, required=False, max_length=100)
    replacementOrder = ProductOrderCreateSerializer(required=False,
                                                    help_text="Supersession: the order that replaces this one.")

    def validate(self, data):
        changes = {"notificationContact", "description", "requestedStartDate", "requestedCompletionDate", "note",
                   "productOrderItem", "replacementOrder"} & set(data)
        if not changes:
            raise serializers.ValidationError("name at least one change (or a replacementOrder)")
        if "replacementOrder" in data and len(changes) > 1:
            raise serializers.ValidationError("a replacementOrder replaces the whole order: send it alone")
        return data
