"""TMF622 request bodies: shape and types (inbound half of the anti-corruption layer).

These serializers only check that the JSON is well formed and typed as TMF622 v4 says; what it means
(catalog, inventory, business rules) is checked by ``orders.services.capture`` on the domain draft the
mapper builds from ``validated_data``.
"""
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

ITEM_ACTIONS = ["add", "modify", "delete", "noChange"]


class StrictMixin:
    """Refuse attributes COM sets itself, so a client never believes it set them."""

    server_owned: tuple[str, ...] = ()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            present = [name for name in self.server_owned if name in data]
            if present:
                raise serializers.ValidationError({name: "is set by COM and cannot be sent" for name in present})
        return super().to_internal_value(data)


class RefSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=120)
    href = serializers.CharField(max_length=500, required=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


class RelatedPartySerializer(serializers.Serializer):
    id = serializers.CharField(max_length=80)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    role = serializers.CharField(max_length=60)
    href = serializers.CharField(max_length=500, required=False)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if isinstance(data, dict) and data.get("@referredType"):
            value["referred_type"] = str(data["@referredType"])[:60]
        return value


class NoteSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=40, required=False)
    author = serializers.CharField(max_length=120, required=False, allow_blank=True)
    date = serializers.DateTimeField(required=False)
    text = serializers.CharField(max_length=4000)


class CharacteristicSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    value = serializers.JSONField()
    valueType = serializers.CharField(max_length=20, required=False)

    def validate_value(self, value):
        if value is None or isinstance(value, (dict, list)):
            raise serializers.ValidationError("must be a string, number or boolean")
        return value


class PlaceSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=80)
    role = serializers.CharField(max_length=60, required=False, allow_blank=True)
    name = serializers.CharField(max_length=300, required=False, allow_blank=True)
    href = serializers.CharField(max_length=500, required=False)


class ProductSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=80, required=False)
    productCharacteristic = CharacteristicSerializer(many=True, required=False)
    place = PlaceSerializer(many=True, required=False)

    def validate_productCharacteristic(self, value):
        names = [c["name"] for c in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise serializers.ValidationError(f"characteristic(s) given twice: {', '.join(duplicates)}")
        return value

    def validate_place(self, value):
        if len(value) > 1:
            raise serializers.ValidationError("one installation place per product")
        return value


class MoneySerializer(serializers.Serializer):
    unit = serializers.CharField(max_length=3)
    value = serializers.DecimalField(max_digits=12, decimal_places=2)


class PriceSerializer(serializers.Serializer):
    taxIncludedAmount = MoneySerializer(required=False)
    dutyFreeAmount = MoneySerializer(required=False)


class OrderPriceSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    priceType = serializers.ChoiceField(choices=["recurring", "oneTime", "usage"])
    recurringChargePeriod = serializers.CharField(max_length=20, required=False, allow_blank=True)
    price = PriceSerializer()

    def validate_price(self, value):
        if not (value.get("taxIncludedAmount") or value.get("dutyFreeAmount")):
            raise serializers.ValidationError("needs taxIncludedAmount or dutyFreeAmount")
        return value


class ItemRelationshipSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=40)
    relationshipType = serializers.CharField(max_length=40)


class ProductOrderItemSerializer(StrictMixin, serializers.Serializer):
    server_owned = ("state",)

    id = serializers.CharField(max_length=40)
    action = serializers.ChoiceField(choices=ITEM_ACTIONS)
    quantity = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=1)
    productOffering = RefSerializer(required=False)
    product = ProductSerializer(required=False)
    itemPrice = OrderPriceSerializer(many=True, required=False)
    productOrderItemRelationship = ItemRelationshipSerializer(many=True, required=False)
    appointment = RefSerializer(required=False)

    def to_internal_value(self, data):
        if isinstance(data, dict) and "productOrderItem" in data:
            raise serializers.ValidationError({"productOrderItem": "nested order items are not supported; "
                                                                   "relate items with productOrderItemRelationship"})
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "enum": ["0", "1", "2", "3", "4"]})
class PriorityField(serializers.Field):
    def to_internal_value(self, data):
        text = str(data).strip()
        if isinstance(data, bool) or text not in {"0", "1", "2", "3", "4"}:
            raise serializers.ValidationError("must be '0' (highest) to '4' (lowest)")
        return int(text)

    def to_representation(self, value):
        return str(value)


class ProductOrderCreateSerializer(StrictMixin, serializers.Serializer):
    """TMF622 v4 ``ProductOrder_Create``."""

    server_owned = ("id", "href", "state", "orderDate", "completionDate", "expectedCompletionDate",
                    "cancellationDate", "cancellationReason")

    externalId = serializers.CharField(max_length=120, required=False, allow_blank=True)
    priority = PriorityField(required=False)
    category = serializers.CharField(max_length=80, required=False, allow_blank=True)
    description = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    notificationContact = serializers.CharField(max_length=200, required=False, allow_blank=True)
    requestedStartDate = serializers.DateTimeField(required=False)
    requestedCompletionDate = serializers.DateTimeField(required=False)
    relatedParty = RelatedPartySerializer(many=True, required=False)
    billingAccount = RefSerializer(required=False)
    note = NoteSerializer(many=True, required=False)
    productOrderItem = ProductOrderItemSerializer(many=True, allow_empty=False)


class ProductOrderUpdateSerializer(serializers.Serializer):
    """The attributes a PATCH may change; anything else is refused by the view with the command to use."""

    description = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    category = serializers.CharField(max_length=80, required=False, allow_blank=True)
    notificationContact = serializers.CharField(max_length=200, required=False, allow_blank=True)
    priority = PriorityField(required=False)
    note = NoteSerializer(many=True, required=False)


class HubSerializer(serializers.Serializer):
    callback = serializers.URLField(max_length=500)
    query = serializers.CharField(max_length=500, required=False, allow_blank=True)
