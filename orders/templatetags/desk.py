"""Template helpers of the order desk: ages and durations in words, states in words, the dashboard."""
from django import template

from orders.desk import words

register = template.Library()


@register.filter
def age(since) -> str:
    return words.age(since)


@register.filter
def duration(value) -> str:
    return words.duration(value)


@register.filter
def state_words(state) -> str:
    return words.ORDER_STATE_WORDS.get(state, state)


@register.filter
def label(value) -> str:
    """A camelCase or snake_case key as words: policyRule -> policy rule."""
    text = str(value).replace("_", " ")
    return "".join(f" {c.lower()}" if c.isupper() else c for c in text).strip()


@register.filter
def shown(value) -> str:
    """A form value as read back to the agent: a list joined, nothing as a dash."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    return "-" if value in (None, "") else str(value)


@register.filter
def compact(value) -> str:
    return words.compact(value)


@register.filter
def is_list(value) -> bool:
    return isinstance(value, (list, tuple))


@register.filter
def is_dict(value) -> bool:
    return isinstance(value, dict)


@register.filter
def entry(mapping, key: str):
    """``mapping|entry:"items"``: the value under a key, or None. The template language would turn a missing
    ``items`` key of a dict into the dict's own ``items()`` method (an amendment's impact has no ``items``)."""
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.inclusion_tag("admin/orders/desk/_dashboard.html", takes_context=True)
def desk_dashboard(context):
    """The dashboard of the admin home, for people who work orders (the view permission of orders)."""
    request = context.get("request")
    if request is None or not request.user.has_perm("orders.view_productorder"):
        return {"show": False}
    from orders.desk.dashboard import dashboard

    return {"show": True, **dashboard()}
