"""Orders as text, and the lines of an order."""

from typing import Dict, List, Optional


def parse_order(text: str) -> Dict[str, int]:
    """Quantities by SKU from lines such as ``ABC-1 x3`` (no ``x``: one unit)."""
    quantities: Dict[str, int] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        sku, _, count = line.partition(" x")
        quantities[sku] = quantities.get(sku, 0) + int(count or 1)
    return quantities


def find_line(lines: List[str], sku: str) -> Optional[int]:
    """The index of the first line for ``sku``, or None."""
    for index, line in enumerate(lines):
        if line.split(" ")[0] == sku:
            return index
    return None
