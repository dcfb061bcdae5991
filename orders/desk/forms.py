"""Small forms for the desk's commands: what each asks of the agent (always a reason), checked before any
service runs. They build domain values (a MutationDraft's changes), never TMF JSON."""
from __future__ import annotations

from django import forms

from catalog.models import ProductOffering, ValueType
from orders.services.holds import REJECTION_REASONS
from orders.services.notes import NOTE_MAX_LENGTH

# Why a change is asked for: the code the mutation request carries.
CHANGE_REASONS = [
    ("CUSTOMER_REQUEST", "the customer asked"),
    ("DATA_ERROR", "the order carried wrong data"),
    ("SALES_CORRECTION", "sales corrected a mistake"),
    ("OPERATIONS_INFEASIBLE", "operations cannot do it as ordered"),
    ("FALLOUT_REPAIR", "repairing a fallout"),
]
REASON_HELP = "Why: it goes on the order's timeline with your name."


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
                             help_text=REASON_HELP)


class RejectForm(forms.Form):
    reason_code = forms.ChoiceField(choices=[("", "---------"), *REJECTION_REASONS.items()], label="Reason code")
    reason = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
                             help_text="Told to the channel with the rejection (the reason code's text if empty).")


class InformationForm(forms.Form):
    reason = forms.CharField(max_length=500, label="Information required",
                             widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                             help_text="What the customer or the channel must tell: the channel receives it.")


class NoteForm(forms.Form):
    text = forms.CharField(max_length=NOTE_MAX_LENGTH, label="Note",
                           widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                           help_text="Signed with your name; a TMF622 note of the order (the channel reads it too).")


class _ChangeForm(forms.Form):
    """What every change request carries: a reason code, a reason and, when commercial, the customer's consent."""

    reason_code = forms.ChoiceField(choices=CHANGE_REASONS, label="Reason code")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
                             help_text=REASON_HELP)
    customer_consent_ref = forms.CharField(max_length=120, required=False, label="Customer consent reference",
                                           help_text="A case or call reference: needed for a commercial change.")


class CancellationForm(_ChangeForm):
    items = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple, label="Items to cancel",
                                      help_text="None ticked: the whole order.")

    def __init__(self, *args, order, fixed_items=None, **kwargs):
        super().__init__(*args, **kwargs)
        items = [i for i in order.items.all() if not i.is_terminal]
        self.fields["items"].choices = [(i.item_id, f"{i.item_id}: {i.product_offering.name} ({i.state})")
                                        for i in items]
        if fixed_items is not None:  # a fallout's items: cancelled together
            self.fields["items"].initial = list(fixed_items)
            self.fields["items"].widget = forms.MultipleHiddenInput()
            self.fields["items"].help_text = ""


def typed_value(characteristic, raw: str):
    """A characteristic's value as its specification types it; ValidationError if it is not one it allows."""
    raw = raw.strip()
    try:
        if characteristic.value_type == ValueType.INTEGER:
            value = int(raw)
        elif characteristic.value_type == ValueType.NUMBER:
            value = float(raw)
        elif characteristic.value_type == ValueType.BOOLEAN:
            if raw.lower() not in ("true", "false", "yes", "no"):
                raise ValueError(raw)
            value = raw.lower() in ("true", "yes")
        else:
            value = raw
    except ValueError:
        raise forms.ValidationError(f"{characteristic.name} is a {characteristic.value_type}: {raw!r} is not one")
    allowed = characteristic.allowed_values or []
    if allowed and value not in allowed:
        raise forms.ValidationError(f"{characteristic.name} takes one of {', '.join(str(v) for v in allowed)}")
    return value


class ItemChangeForm(_ChangeForm):
    """Change one item: a characteristic, the quantity or the offering (classified correction or amendment)."""

    item = forms.ChoiceField(label="Item")
    characteristic = forms.ChoiceField(required=False, label="Characteristic")
    value = forms.CharField(max_length=200, required=False, label="New value")
    quantity = forms.IntegerField(min_value=1, max_value=1000, required=False, label="New quantity")
    offering = forms.ChoiceField(required=False, label="New offering")

    field_order = ["item", "characteristic", "value", "quantity", "offering", "reason_code", "reason",
                   "customer_consent_ref"]
    characteristics_only = False

    def __init__(self, *args, order, items=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_items = {i.item_id: i for i in (items if items is not None else order.items.all())
                            if not i.is_terminal}
        self.fields["item"].choices = [(k, f"{k}: {i.product_offering.name}") for k, i in self.order_items.items()]
        names = sorted({c.name for i in self.order_items.values()
                        for c in i.product_specification.characteristics.all()})
        self.fields["characteristic"].choices = [("", "---------"), *((n, n) for n in names)]
        if self.characteristics_only:
            self.fields["characteristic"].required = self.fields["value"].required = True
            del self.fields["quantity"], self.fields["offering"], self.fields["customer_consent_ref"]
            self.fields["reason_code"].initial = "FALLOUT_REPAIR"
        else:
            offerings = ProductOffering.objects.filter(lifecycle_status="active", is_sellable=True).order_by("name")
            self.fields["offering"].choices = [("", "---------"), *((o.offering_id, str(o)) for o in offerings)]

    def clean(self):
        data = super().clean()
        item = self.order_items.get(data.get("item"))
        if item is None:
            return data
        change = {}
        name = data.get("characteristic")
        if name:
            spec = {c.name: c for c in item.product_specification.characteristics.all()}
            if name not in spec:
                self.add_error("characteristic", f"Item {item.item_id} has no characteristic {name}")
            elif not (data.get("value") or "").strip():
                self.add_error("value", "Give the new value")
            else:
                try:
                    change["characteristics"] = {name: typed_value(spec[name], data["value"])}
                except forms.ValidationError as error:
                    self.add_error("value", error)
        if data.get("quantity"):
            change["quantity"] = data["quantity"]
        if data.get("offering"):
            change["offering_id"] = data["offering"]
        if not change and not self.errors:
            raise forms.ValidationError("Say what changes: a characteristic and its value, a quantity or an offering")
        data["changes"] = {"items": {item.item_id: change}}
        return data


class CorrectionForm(ItemChangeForm):
    """A fallout's repair: correct a characteristic of an item it holds, then send the service again."""

    characteristics_only = True


class RescheduleForm(_ChangeForm):
    """Move the appointment of an item, or the order's requested dates."""

    item = forms.ChoiceField(required=False, label="Item with an appointment")
    appointment = forms.CharField(max_length=80, required=False, label="New appointment id")
    requested_start_date = forms.DateTimeField(required=False, label="New requested start (YYYY-MM-DD HH:MM, UTC)")
    requested_completion_date = forms.DateTimeField(required=False, label="New requested completion")

    field_order = ["item", "appointment", "requested_start_date", "requested_completion_date", "reason_code",
                   "reason", "customer_consent_ref"]

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [("", "---------"), *(
            (i.item_id, f"{i.item_id}: {i.product_offering.name} (appointment {(i.appointment or {}).get('id', '-')})")
            for i in order.items.all() if not i.is_terminal)]

    def clean(self):
        data = super().clean()
        changes = {}
        if data.get("appointment"):
            if not data.get("item"):
                self.add_error("item", "Which item's appointment moves?")
            else:
                changes["items"] = {data["item"]: {"appointment": {"id": data["appointment"].strip()}}}
        dates = {k: data[k] for k in ("requested_start_date", "requested_completion_date") if data.get(k)}
        if dates:
            changes["order"] = dates
        if not changes and not self.errors:
            raise forms.ValidationError("Give a new appointment or a new requested date")
        data["changes"] = changes
        return data


class DetailsForm(_ChangeForm):
    """Correct the order's contact or description (non-commercial)."""

    notification_contact = forms.CharField(max_length=200, required=False, label="Notification contact")
    description = forms.CharField(max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    field_order = ["notification_contact", "description", "reason_code", "reason"]

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notification_contact"].initial = order.notification_contact
        self.fields["description"].initial = order.description
        del self.fields["customer_consent_ref"]
        self.order = order

    def clean(self):
        data = super().clean()
        changes = {name: data[name] for name in ("notification_contact", "description")
                   if data.get(name) not in (None, "") and data[name] != getattr(self.order, name)}
        if not changes and not self.errors:
            raise forms.ValidationError("Nothing changes: give a new contact or description")
        data["changes"] = {"order": changes}
        return data


class EvidenceForm(forms.Form):
    evidence = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
                               help_text="What was done, by whom, and a reference (a job sheet, a ticket).")
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
                             help_text=REASON_HELP)


class DecisionForm(forms.Form):
    comment = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
                              help_text="Required to reject: the requester reads it.")


class GroupRetryForm(forms.Form):
    root_cause = forms.CharField(max_length=200, widget=forms.HiddenInput)
    reason = forms.CharField(max_length=500, help_text=REASON_HELP)
