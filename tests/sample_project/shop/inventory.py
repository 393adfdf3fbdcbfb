"""Stock levels, and the weight of what is in stock."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One stocked product."""

    sku: str
    weight_kg: float
    quantity: int


def total_weight(items: list[Item]) -> int:
    """The weight of every unit in stock, in kilograms."""
    total = 0.0
    for item in items:
        total += item.weight_kg * item.quantity
    return total


def low_stock(items: list[Item], threshold: int = 5) -> list[str]:
    """The SKUs of the items with fewer than ``threshold`` units left."""
    return [item.sku for item in items if item.quantity < threshold]
