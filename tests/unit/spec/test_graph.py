"""Graph checks that do not need a planner: resolved needs, cycles, order, drawing."""

from __future__ import annotations

import pytest

from baton.spec.graph import find_cycle, resolve_needs, to_dot, to_mermaid, topological_order
from baton.spec.loader import load_workflow_text

DIAMOND = """
name: diamond
steps:
  - id: build
    command: make
  - id: unit
    needs: [build]
    command: make test
  - id: lint
    needs: [build]
    when: "inputs.lint"
    command: make lint
  - id: ship
    needs: [unit, lint]
    command: make dist
inputs:
  lint: {type: boolean, default: true}
finally:
  - id: tidy
    command: make clean
"""


def test_absent_needs_means_the_previous_step() -> None:
    workflow = load_workflow_text(
        "name: w\nsteps:\n  - {id: a, command: x}\n  - {id: b, command: y}\n  - {id: c, command: z, needs: []}\n"
    )
    assert resolve_needs(workflow.steps) == {"a": [], "b": ["a"], "c": []}


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": [], "b": ["a"]}, None),
        ({"a": ["b"], "b": ["a"]}, ["a", "b", "a"]),
        ({"a": [], "b": ["c"], "c": ["d"], "d": ["b"]}, ["b", "c", "d", "b"]),
        ({"a": ["a"]}, ["a", "a"]),
    ],
    ids=["acyclic", "pair", "triangle-off-root", "self"],
)
def test_find_cycle(graph: dict[str, list[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


def test_topological_order_respects_needs_and_file_order() -> None:
    assert topological_order({"a": [], "c": ["b"], "b": ["a"], "d": []}) == ["a", "d", "b", "c"]
    with pytest.raises(ValueError, match="cycle"):
        topological_order({"a": ["b"], "b": ["a"]})


def test_mermaid_draws_edges_and_conditional_steps() -> None:
    text = to_mermaid(load_workflow_text(DIAMOND))
    assert text.startswith("flowchart TD\n")
    for edge in ("build --> unit", "build -.-> lint", "unit --> ship", "lint --> ship"):
        assert edge in text
    assert "subgraph finally" in text
    assert 'tidy["tidy (shell)"]' in text


def test_dot_draws_edges_and_clusters() -> None:
    text = to_dot(load_workflow_text(DIAMOND))
    assert text.startswith('digraph "diamond" {')
    assert '"build" -> "unit";' in text
    assert '"lint" [label="lint (shell)", style="dashed"];' in text
    assert 'subgraph "cluster_finally"' in text
