"""TMF622 request bodies: shape and types (inbound half of the anti-corruption layer).

These serializers only check that the JSON is well formed and typed as TMF622 v4 says; what it means
(catalog, inventory, business rules) is checked by ``orders.services.capture`` on the domain draft the
mapper builds from ``validated_data``.

Every list and every free text is bounded (settings ``COM_MAX_*``): a request over a bound is a 400 that
names it, before anything in it is looked at.
"""
from django.conf import settings
from django.core.validators import MaxLengthValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

ITEM_ACTIONS = ["add", "modify", "delete", "noChange"]


class CharField(serializers.CharField):
    """A JSON string. A number or a boolean is refused rather than turned into text: TMF622 types these
    attributes as strings, and a channel sending ``"quantity"``-like numbers where text belongs has a bug."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class BoundedListSerializer(serializers.ListSerializer):
    """A list with at most ``max_length`` entries: refused before any entry is validated, and documented as
    ``maxItems`` in the OpenAPI schema (drf-spectacular reads the length validator)."""

    def get_validators(self):
        validators = list(super().get_validators())
        if self.max_length is not None:
            validators.append(MaxLengthValidator(self.max_length))
        return validators


def at_most(limit: int, what: str, child: serializers.Serializer, **kwargs) -> BoundedListSerializer:
    """A list of ``child`` entries, at most ``limit`` of them; the refusal names the bound."""
    return BoundedListSerializer(child=child, max_length=limit,
                                 error_messages={"max_length": f"at most {limit} {what}"}, **kwargs)


def text(limit: int, **kwargs) -> serializers.CharField:
    """A free text of at most ``limit`` characters (the message names the bound)."""
    return CharField(max_length=limit, error_messages={"max_length": f"at most {limit} characters"},
                                 **kwargs)


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
    id = CharField(max_length=120)
    href = CharField(max_length=500, required=False)
    name = CharField(max_length=200, required=False, allow_blank=True)


class RelatedPartySerializer(serializers.Serializer):
    id = CharField(max_length=80)
    name = CharField(max_length=200, required=False, allow_blank=True)
    role = CharField(max_length=60)
    href = CharField(max_length=500, required=False)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if isinstance(data, dict) and data.get("@referredType"):
            value["referred_type"] = str(data["@referredType"])[:60]
        return value


class NoteSerializer(serializers.Serializer):
    id = CharField(max_length=40, required=False)
    author = CharField(max_length=120, required=False, allow_blank=True,
                       help_text="A person's or a team's name; the note is kept with the channel that wrote it. "
                                 "user:, channel: and system are names COM gives (400). Notes of COM's staff read "
                                 "'order desk'.")
    date = serializers.DateTimeField(required=False)
    text = text(settings.COM_MAX_NOTE_LENGTH)


class CharacteristicSerializer(serializers.Serializer):
    name = CharField(max_length=80)
    value = serializers.JSONField()
    valueType = CharField(max_length=20, required=False)

    def validate_value(self, value):
        if value is None or isinstance(value, (dict, list)):
            raise serializers.ValidationError("must be a string, number or boolean")
        return value


class PlaceSerializer(serializers.Serializer):
    id = CharField(max_length=80)
    role = CharField(max_length=60, required=False, allow_blank=True)
    name = CharField(max_length=300, required=False, allow_blank=True)
    href = CharField(max_length=500, required=False)


class ProductSerializer(serializers.Serializer):
    id = CharField(max_length=80, required=False)
    productCharacteristic = at_most(settings.COM_MAX_CHARACTERISTICS_PER_ITEM, "characteristics per item",
                                    CharacteristicSerializer(), required=False)
    place = at_most(1, "installation place per product", PlaceSerializer(), required=False)

    def validate_productCharacteristic(self, value):
        names = [c["name"] for c in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise serializers.ValidationError(f"characteristic(s) given twice: {', '.join(duplicates)}")
        return value


class MoneySerializer(serializers.Serializer):
    unit = CharField(min_length=3, max_length=3)
    value = serializers.DecimalField(max_digits=12, decimal_places=2)

    def validate_value(self, value):
        if value <= 0:
            raise serializers.ValidationError("must be a positive amount: prices come from the catalog")
        return value


class PriceSerializer(serializers.Serializer):
    taxIncludedAmount = MoneySerializer(required=False)
    dutyFreeAmount = MoneySerializer(required=False)


class OrderPriceSerializer(serializers.Serializer):
    name = CharField(max_length=120, required=False, allow_blank=True)
    priceType = serializers.ChoiceField(choices=["recurring", "oneTime", "usage"])
    recurringChargePeriod = CharField(max_length=20, required=False, allow_blank=True)
    price = PriceSerializer()

    def validate_price(self, value):
        if not value.get("taxIncludedAmount"):
            raise serializers.ValidationError("needs taxIncludedAmount: catalog prices are tax included")
        return value


class ItemRelationshipSerializer(serializers.Serializer):
    id = CharField(max_length=40)
    relationshipType = CharField(max_length=40)


class ProductOrderItemSerializer(StrictMixin, serializers.Serializer):
    server_owned = ("state",)

    id = CharField(max_length=40)
    action = serializers.ChoiceField(choices=ITEM_ACTIONS)
    quantity = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=1)
    productOffering = RefSerializer(required=False)
    product = ProductSerializer(required=False)
    # Optional: a quote the channel showed its customer. It must equal the catalog's unit prices of the
    # offering (capture checks it); the order always carries the catalog's.
    itemPrice = at_most(settings.COM_MAX_PRICES_PER_ITEM, "prices per item", OrderPriceSerializer(), required=False)
    productOrderItemRelationship = at_most(settings.COM_MAX_ITEMS_PER_ORDER, "relationships per item",
                                           ItemRelationshipSerializer(), required=False)
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

    externalId = CharField(max_length=120, required=False, allow_blank=True)
    priority = PriorityField(required=False)
    category = CharField(max_length=80, required=False, allow_blank=True)
    description = text(settings.COM_MAX_DESCRIPTION_LENGTH, required=False, allow_blank=True)
    notificationContact = CharField(max_length=200, required=False, allow_blank=True)
    requestedStartDate = serializers.DateTimeField(required=False)
    requestedCompletionDate = serializers.DateTimeField(required=False)
    relatedParty = at_most(settings.COM_MAX_RELATED_PARTIES, "related parties per order", RelatedPartySerializer(),
                           required=False)
    billingAccount = RefSerializer(required=False)
    note = at_most(settings.COM_MAX_NOTES_PER_ORDER, "notes per order", NoteSerializer(), required=False)
    productOrderItem = at_most(settings.COM_MAX_ITEMS_PER_ORDER, "items per order", ProductOrderItemSerializer(),
                               allow_empty=False)


class ProductOrderUpdateSerializer(serializers.Serializer):
    """The attributes a PATCH may change; anything else is refused by the view with the command to use.

    A JSON merge patch (RFC 7386): ``null`` removes a descriptive text (it becomes empty). Notes are appended;
    the order's notes over its whole life stay within ``COM_MAX_NOTES_PER_ORDER``.
    """

    description = text(settings.COM_MAX_DESCRIPTION_LENGTH, required=False, allow_blank=True, allow_null=True)
    category = CharField(max_length=80, required=False, allow_blank=True, allow_null=True)
    notificationContact = CharField(max_length=200, required=False, allow_blank=True, allow_null=True)
    priority = PriorityField(required=False)
    note = at_most(settings.COM_MAX_NOTES_PER_ORDER, "notes per order", NoteSerializer(), required=False)

    def validate_description(self, value):
        return value or ""

    def validate_category(self, value):
        return value or ""

    def validate_notificationContact(self, value):
        return value or ""


class HubSerializer(serializers.Serializer):
    callback = serializers.URLField(max_length=500)
    query = CharField(max_length=500, required=False, allow_blank=True)
