"""The step graph: resolved dependencies, cycle detection, and drawing as Mermaid or DOT."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from baton.spec.models import Workflow
from baton.spec.steps import AnyStep, StepCommon


def resolve_needs(steps: Sequence[StepCommon]) -> dict[str, list[str]]:
    """Each step's dependencies: its ``needs``, or the previous step in the list when absent."""
    resolved: dict[str, list[str]] = {}
    previous: str | None = None
    for step in steps:
        if step.needs is not None:
            resolved[step.id] = list(step.needs)
        else:
            resolved[step.id] = [previous] if previous is not None else []
        previous = step.id
    return resolved


def find_cycle(needs: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A dependency cycle as ``[a, b, c, a]`` (a needs b needs c needs a), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in needs:
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, list[str]]] = [(start, list(needs.get(start, ())))]
        state[start] = 1
        path.append(start)
        while stack:
            node, pending = stack[-1]
            if not pending:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            nxt = pending.pop(0)
            if nxt not in needs or state.get(nxt) == 2:
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            state[nxt] = 1
            path.append(nxt)
            stack.append((nxt, list(needs[nxt])))
    return None


def topological_order(needs: Mapping[str, Iterable[str]]) -> list[str]:
    """Step ids ordered so that every step comes after what it needs (file order kept on ties)."""
    remaining = {step: set(deps) & set(needs) for step, deps in needs.items()}
    order: list[str] = []
    while remaining:
        ready = [step for step, deps in remaining.items() if not deps]
        if not ready:
            raise ValueError(f"dependency cycle: {' -> '.join(find_cycle(needs) or [])}")
        for step in ready:
            del remaining[step]
            order.append(step)
        for deps in remaining.values():
            deps.difference_update(ready)
    return order


def _label(step: AnyStep) -> str:
    text = step.name or step.id
    extras: list[str] = [step.type]
    if step.for_each is not None:
        extras.append("for_each")
    if step.cache_enabled:
        extras.append("cached")
    return f"{text} ({', '.join(extras)})"


def to_mermaid(workflow: Workflow) -> str:
    """The step graph as a Mermaid flowchart (conditional steps dashed, lists as subgraphs)."""
    lines = ["flowchart TD"]
    for list_name, steps in workflow.step_lists().items():
        if not steps:
            continue
        indent = "  "
        if list_name != "steps":
            lines.append(f"  subgraph {list_name}")
            indent = "    "
        for step in steps:
            label = _label(step).replace('"', "#quot;")
            lines.append(f'{indent}{step.id}["{label}"]')
        if list_name != "steps":
            lines.append("  end")
        for step_id, deps in resolve_needs(steps).items():
            arrow = "-.->" if workflow.step(step_id).when is not None else "-->"
            lines.extend(f"  {dep} {arrow} {step_id}" for dep in deps)
    return "\n".join(lines) + "\n"


def to_dot(workflow: Workflow) -> str:
    """The step graph in Graphviz DOT (conditional steps dashed, lists as clusters)."""
    lines = [f'digraph "{workflow.name}" {{', "  rankdir=TB;", "  node [shape=box];"]
    for list_name, steps in workflow.step_lists().items():
        if not steps:
            continue
        if list_name != "steps":
            lines.append(f'  subgraph "cluster_{list_name}" {{ label="{list_name}";')
        for step in steps:
            style = ', style="dashed"' if step.when is not None else ""
            label = _label(step).replace('"', '\\"')
            lines.append(f'  "{step.id}" [label="{label}"{style}];')
        if list_name != "steps":
            lines.append("  }")
        for step_id, deps in resolve_needs(steps).items():
            lines.extend(f'  "{dep}" -> "{step_id}";' for dep in deps)
    lines.append("}")
    return "\n".join(lines) + "\n"
