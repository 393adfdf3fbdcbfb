"""Masking secret values as ``***`` in everything Baton stores or prints."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_MASKED_LENGTH = 3
"""Shorter values are not masked: hiding every ``1`` or ``a`` would garble all output."""


class Masker:
    """Replaces known secret values in text and in JSON-like data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._values = sorted({s for s in secrets if len(s) >= MIN_MASKED_LENGTH}, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    def text(self, value: str) -> str:
        """``value`` with every secret replaced."""
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        """A copy of JSON-like ``value`` with every secret replaced in its strings and keys."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value
