"""Where each step goes in the step graph drawing: a column per dependency depth, left to
right, with ``on_failure`` and ``finally`` steps after the main steps."""

from __future__ import annotations

from typing import Any

from baton.engine.definition import STEP_LISTS, Definition

NODE_WIDTH = 150
NODE_HEIGHT = 34
COLUMN_GAP = 60
ROW_GAP = 18
MARGIN = 10


def depths(definition: Definition) -> dict[str, int]:
    """Each step's column: one past the deepest step it needs (lists follow one another)."""
    column: dict[str, int] = {}
    offset = 0
    for list_name in STEP_LISTS:
        listed = definition.list_steps(list_name)
        for step in listed:  # steps come in file order and needs point backwards in a list
            column[step.id] = max((column[n] + 1 for n in step.needs if n in column), default=offset)
        if listed:
            offset = max(column[s.id] for s in listed) + 1
    return column


def graph_layout(definition: Definition, statuses: dict[str, str]) -> dict[str, Any]:
    """Nodes (with their status) and edges in SVG coordinates."""
    column = depths(definition)
    rows: dict[int, int] = {}
    nodes: dict[str, dict[str, Any]] = {}
    for step in definition.steps:
        depth = column[step.id]
        row = rows.get(depth, 0)
        rows[depth] = row + 1
        nodes[step.id] = {
            "id": step.id,
            "type": step.type,
            "status": statuses.get(step.id, "pending"),
            "x": MARGIN + depth * (NODE_WIDTH + COLUMN_GAP),
            "y": MARGIN + row * (NODE_HEIGHT + ROW_GAP),
        }
    edges = []
    for step in definition.steps:
        for need in step.needs:
            if need in nodes:
                start, end = nodes[need], nodes[step.id]
                edges.append({"x1": start["x"] + NODE_WIDTH, "y1": start["y"] + NODE_HEIGHT / 2,
                              "x2": end["x"], "y2": end["y"] + NODE_HEIGHT / 2})  # fmt: skip
    width = MARGIN * 2 + (max(column.values(), default=0) + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = MARGIN * 2 + max(rows.values(), default=1) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    return {"nodes": list(nodes.values()), "edges": edges, "width": width, "height": height,
            "node_width": NODE_WIDTH, "node_height": NODE_HEIGHT}  # fmt: skip
