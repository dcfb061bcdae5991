"""Prices of order items: the catalog's, per unit, times the quantity. Pure functions on stored price dicts.

An item stores the unit prices of the offering version it was captured against (``unit_prices``), in the
shape ``{"name", "price_type", "amount" (a decimal string), "currency", "recurring_period"}``. Everything
that needs money (the TMF622 representation, the credit check, billing) multiplies them with
``item_total``; nothing reads a price a channel sent.
"""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

CENT = Decimal("0.01")

# Months per charge period, to express a recurring charge per month (unknown periods count as monthly).
_MONTHS = {"month": Decimal(1), "year": Decimal(1) / 12, "quarter": Decimal(1) / 3, "week": Decimal(52) / 12,
           "day": Decimal(365) / 12}


def unit_prices(offering, characteristics: dict | None = None) -> list[dict]:
    """The offering's catalog prices per unit for a product with these characteristics, as an item stores them
    (a price conditioned on a characteristic value applies only with that value)."""
    return [
        {"name": p.name, "price_type": p.price_type, "amount": str(Decimal(p.amount).quantize(CENT)),
         "currency": p.currency, "recurring_period": p.recurring_period if p.price_type == "recurring" else ""}
        for p in offering.prices.all() if p.applies_to(characteristics)
    ]


def price_key(price: dict) -> tuple[str, str, str]:
    """What makes two prices the same charge: type, charge period and currency."""
    period = (price.get("recurring_period") or "") if price.get("price_type") == "recurring" else ""
    return price.get("price_type") or "", period, price.get("currency") or ""


def item_total(item_prices: Iterable[dict], quantity: int) -> list[dict]:
    """The item's prices times its quantity (same shape as the unit prices)."""
    return [{**p, "amount": str((Decimal(p["amount"]) * quantity).quantize(CENT))} for p in item_prices]


def order_total(items: Iterable[tuple[Iterable[dict], int]]) -> list[dict]:
    """Sum of ``(unit prices, quantity)`` pairs, one entry per price type, charge period and currency."""
    totals: dict[tuple[str, str, str], Decimal] = {}
    for prices, quantity in items:
        for price in item_total(prices, quantity):
            key = price_key(price)
            totals[key] = totals.get(key, Decimal("0")) + Decimal(price["amount"])
    return [{"name": f"Total {price_type}{' per ' + period if period else ''}", "price_type": price_type,
             "amount": str(amount.quantize(CENT)), "currency": currency, "recurring_period": period}
            for (price_type, period, currency), amount in totals.items()]


def monthly_amount(item_prices: Iterable[dict], quantity: int) -> Decimal:
    """The recurring charges of the prices times the quantity, expressed per month."""
    total = Decimal("0")
    for price in item_total(item_prices, quantity):
        if price.get("price_type") == "recurring":
            total += Decimal(price["amount"]) * _MONTHS.get(price.get("recurring_period") or "month", Decimal(1))
    return total.quantize(CENT)


def describe(prices: Iterable[dict]) -> str:
    """``recurring 39.99 EUR per month, oneTime 49.00 EUR``: prices as an error message names them."""
    parts = []
    for price in prices:
        period = f" per {price['recurring_period']}" if price_key(price)[1] else ""
        parts.append(f"{price['price_type']} {Decimal(price['amount']).quantize(CENT)} {price['currency']}{period}")
    return ", ".join(parts) or "no price"


def quoted_price_problem(quoted: Iterable[dict], catalog: list[dict]) -> str:
    """Why prices a channel quoted differ from the catalog's unit prices ('' when they are the same).

    The quote must name every catalog charge once, with the same type, charge period, currency and amount.
    """
    def charges(prices):
        return sorted((*price_key(p), Decimal(p["amount"]).quantize(CENT)) for p in prices)

    quoted = list(quoted)
    if charges(quoted) == charges(catalog):
        return ""
    return f"the price is the catalog's, per unit: expected {describe(catalog)}; got {describe(quoted)}"
