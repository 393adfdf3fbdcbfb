"""Sales statistics."""

from __future__ import annotations


def repeat_customers(customer_ids: list[str]) -> list[str]:
    """The customers who ordered more than once, in the order of their first order."""
    repeated: list[str] = []
    for index, customer in enumerate(customer_ids):
        if customer in repeated:
            continue
        if customer in customer_ids[index + 1 :]:
            repeated.append(customer)
    return repeated


def average_order(totals: list[float]) -> float:
    """The mean order total (0 for no orders)."""
    return sum(totals) / len(totals) if totals else 0.0
