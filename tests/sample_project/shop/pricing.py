"""Prices of a basket: subtotals, discount codes and shipping."""

from __future__ import annotations

DISCOUNTS = {"WELCOME10": 10, "SPRING25": 25}


def subtotal(prices: list[float], quantities: list[int]) -> float:
    """The sum of price times quantity over the lines of a basket."""
    if len(prices) != len(quantities):
        raise ValueError("every price needs a quantity")
    return sum(price * quantity for price, quantity in zip(prices, quantities, strict=True))


def apply_discount(total: float, code: str | None) -> float:
    """The total less the percentage a discount code gives (an unknown code gives nothing)."""
    if code is None:
        return total
    percent = DISCOUNTS.get(code.upper())
    if percent is None:
        return total
    return round(total * (100 - percent) / 100, 2)


def shipping(weight_kg: float) -> float:
    """The shipping charge for a parcel of this weight."""
    if weight_kg <= 0:
        raise ValueError("a parcel weighs something")
    if weight_kg <= 2:
        return 4.5
    if weight_kg <= 10:
        return 9.0
    return round(9.0 + (weight_kg - 10) * 0.5, 2)


def free_shipping(total: float, threshold: float = 50.0) -> bool:
    """Whether a basket of this total ships for free."""
    return total >= threshold
