"""Masking secret values as ``***`` in everything Baton stores or prints."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
SECRET_ITEMS = (
    "for_each items may not hold a secret: items are stored in the execution's state; "
    "iterate over names or indexes instead and read the secret in the step (secrets[item])"
)
"""The error of a ``for_each`` whose items would put a secret in the state."""
MIN_MASKED_LENGTH = 3
"""Shorter values are not masked: hiding every ``1`` or ``a`` would garble all output."""


class Masker:
    """Replaces known secret values in text and in JSON-like data."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is replaced whole. Each secret is
        # also masked in the escaped forms error texts and JSON show it in (repr, JSON,
        # URL-encoding), where a quote, backslash or newline in it would change its text.
        forms = {form for secret in secrets if len(secret) >= MIN_MASKED_LENGTH for form in _forms(secret)}
        self._values = sorted(forms, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._values)

    def text(self, value: str) -> str:
        """``value`` with every secret replaced."""
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def reveals(self, value: Any) -> bool:
        """Whether JSON-like ``value`` holds a secret (in any form :meth:`text` masks)."""
        return bool(self._values) and self.data(value) != value

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


def _forms(secret: str) -> set[str]:
    """The secret as written, and as ``repr``, JSON, ``ascii`` and URLs show it."""
    forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], ascii(secret)[1:-1]}
    forms |= {json.dumps(secret, ensure_ascii=False)[1:-1], quote(secret, safe=""), quote_plus(secret)}
    forms.add(secret.encode("unicode_escape").decode("ascii"))
    return {form for form in forms if len(form) >= MIN_MASKED_LENGTH}
