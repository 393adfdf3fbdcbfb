"""Tokens and dollars of agent steps, read from their outputs (``usage``, ``cost_usd``): what an
execution spent, and what its cache hits saved (the recorded spend of the run they restore)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and estimated dollars."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            round(self.cost_usd + other.cost_usd, 6),
        )

    def to_data(self) -> dict[str, Any]:
        """As JSON data."""
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens, "cost_usd": self.cost_usd}


def usage_of(outputs: Any) -> Usage | None:
    """The usage an agent step's outputs record, or None for other steps."""
    if not isinstance(outputs, Mapping) or not isinstance(outputs.get("usage"), Mapping) or "cost_usd" not in outputs:
        return None
    tokens = outputs["usage"]
    try:
        return Usage(
            int(tokens.get("input_tokens", 0)), int(tokens.get("output_tokens", 0)), float(outputs["cost_usd"])
        )
    except (TypeError, ValueError):
        return None


def summarize(document: Mapping[str, Any]) -> dict[str, Any] | None:
    """``{"spent": ..., "saved": ...}`` over the steps of an execution document (None: no agent)."""
    spent, saved, seen = Usage(), Usage(), False
    for step in document.get("steps", {}).values():
        units = step.get("items") or [step]
        for unit in units:
            usage = usage_of(unit.get("outputs"))
            if usage is None:
                continue
            seen = True
            if unit.get("cache_hit") or unit.get("status") == "cached":
                saved += usage
            else:
                spent += usage
    return {"spent": spent.to_data(), "saved": saved.to_data()} if seen else None


def describe_usage(usage: Usage, *, cached: bool) -> str:
    """``tokens 1800 in / 400 out  $0.0114`` (``saved`` instead of the dollars on a cache hit)."""
    money = f"saved ${usage.cost_usd:.4f}" if cached else f"${usage.cost_usd:.4f}"
    return f"tokens {usage.input_tokens} in / {usage.output_tokens} out  {money}"
