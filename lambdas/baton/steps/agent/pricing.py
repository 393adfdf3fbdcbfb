"""Prices of model tokens, in US dollars per million, for the cost estimate of an agent step.

The first row whose key occurs in the model identifier wins, so Bedrock ids
(``us.anthropic.claude-sonnet-4-5-20250929-v1:0``) and Anthropic names (``claude-sonnet-4-5``)
share a row. A model no row names is priced as ``DEFAULT_PRICE`` and says so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Price:
    """Dollars per million input and output tokens."""

    input_per_million: float
    output_per_million: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """The dollars these tokens cost."""
        return (input_tokens * self.input_per_million + output_tokens * self.output_per_million) / 1_000_000


PRICES: tuple[tuple[str, Price], ...] = (
    ("claude-opus-4-5", Price(5.0, 25.0)),
    ("claude-opus-4", Price(15.0, 75.0)),
    ("claude-sonnet-4", Price(3.0, 15.0)),
    ("claude-3-7-sonnet", Price(3.0, 15.0)),
    ("claude-haiku-4-5", Price(1.0, 5.0)),
    ("claude-3-5-haiku", Price(0.8, 4.0)),
    ("nova-pro", Price(0.8, 3.2)),
    ("nova-lite", Price(0.06, 0.24)),
    ("nova-micro", Price(0.035, 0.14)),
)
"""Rows in the order they are tried (more specific names first)."""

DEFAULT_PRICE = Price(3.0, 15.0)
"""Used for a model no row names (Claude Sonnet's price)."""


def price_of(model: str) -> tuple[Price, bool]:
    """The price of ``model`` and whether a row named it (False: the default was used)."""
    lowered = model.lower()
    for key, price in PRICES:
        if key in lowered:
            return price, True
    return DEFAULT_PRICE, False


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """The estimated dollars of a call, rounded to a millionth of a dollar."""
    price, _ = price_of(model)
    return round(price.cost(input_tokens, output_tokens), 6)
