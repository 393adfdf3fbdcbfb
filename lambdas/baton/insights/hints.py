"""Optimization hints derived from recorded runs; each carries the numbers it rests on.

- ``cache``: a slow step on the latest run's critical path with no cache, of a type whose
  result depends only on what it is given (shell, agent), that never failed or retried and
  gave identical outputs every time the execution's inputs were the same.
- ``parallel``: a step that follows the previous one only because of its place in the list
  (no ``needs``) and whose definition reads nothing of it.
- ``flaky``: a step that passed only after retries, with the time the retries cost.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

from baton.engine.definition import Definition, StepDef
from baton.engine.records import SUCCEEDED
from baton.engine.summary import canonical
from baton.insights.history import Run, ran

CACHEABLE_TYPES = frozenset({"shell", "agent"})
SLOW_SHARE = 0.2
"""A step is slow when its median takes at least this share of the workflow's median."""
MIN_FLAKY_UNITS = 2


def human_seconds(value: float) -> str:
    """``0.42 s``, ``12.3 s``, ``4.1 min``, ``2.0 h``."""
    if value >= 7200:
        return f"{value / 3600:.1f} h"
    if value >= 120:
        return f"{value / 60:.1f} min"
    if value >= 10:
        return f"{value:.1f} s"
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"


def hints_for(runs: list[Run], stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Every hint the history supports, per workflow (``stats`` from ``compute_stats``)."""
    found: list[dict[str, Any]] = []
    for figures in stats["workflows"]:
        group = [run for run in runs if run.workflow == figures["workflow"]]
        definition = next((run.definition for run in group if run.definition is not None), None)
        if definition is None:
            continue
        rows = {row["step"]: row for row in figures["steps"]}
        found += cache_hints(figures, rows, group, definition)
        found += parallel_hints(figures["workflow"], rows, definition)
        found += flaky_hints(figures["workflow"], rows)
    return found


def cache_hints(
    figures: dict[str, Any], rows: dict[str, dict[str, Any]], runs: list[Run], definition: Definition
) -> list[dict[str, Any]]:
    """Slow, uncached, repeatable steps on the latest critical path."""
    found = []
    same_inputs = InputGroups()
    path = figures["critical_path"]["steps"]
    workflow_p50 = figures["p50_seconds"] or 0.0
    for entry in path:
        step, row = _step(definition, entry["step_id"]), rows.get(entry["step_id"])
        if step is None or row is None or step.cache_enabled or step.type not in CACHEABLE_TYPES:
            continue
        if row["failed"] or row["retried"]:
            continue  # a step that fails for the same inputs is not a pure function of them
        median = row["p50_seconds"] or 0.0
        if median <= 0 or median < SLOW_SHARE * workflow_p50:
            continue
        repeats = repeatability(runs, step.id, same_inputs)
        if repeats["repeated_runs"] == 0 or repeats["differing_groups"]:
            continue
        avoidable = repeats["repeated_runs"] - repeats["groups"]
        evidence = {
            "p50_seconds": median,
            "workflow_p50_seconds": workflow_p50,
            "share_of_workflow_p50": round(median / workflow_p50, 3) if workflow_p50 else None,
            "on_critical_path_of": figures["critical_path"]["execution_id"],
            **repeats,
            "avoidable_runs": avoidable,
            "estimated_saving_seconds": round(avoidable * median, 3),
        }
        found.append(
            _hint(
                "cache",
                figures["workflow"],
                [step.id],
                f"{step.id} takes {human_seconds(median)} at the median "
                f"({_percent(evidence['share_of_workflow_p50'])} of the workflow's), lies on the critical path, "
                f"and gave identical outputs in all {repeats['repeated_runs']} runs that shared their inputs with "
                f"another; with a cache_key, {avoidable} of them would have been restored "
                f"(~{human_seconds(evidence['estimated_saving_seconds'])})",
                evidence,
            )
        )
    return found


class InputGroups:
    """The canonical form of an execution's inputs, computed once per distinct JSON text."""

    def __init__(self) -> None:
        self._forms: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        form = self._forms.get(text)
        if form is None:
            form = self._forms[text] = canonical(json.loads(text))
        return form


def repeatability(runs: list[Run], step_id: str, same_inputs: InputGroups | None = None) -> dict[str, int]:
    """Executed successes of ``step_id`` grouped by the execution's inputs: how many runs
    shared their inputs with another, in how many groups, and how many groups disagreed."""
    group_of = same_inputs if same_inputs is not None else InputGroups()
    groups: dict[str, list[str | None]] = defaultdict(list)
    for run in runs:
        record = run.records.get(step_id)
        if record is not None and ran(record) and record.status == SUCCEEDED and record.item_count is None:
            groups[group_of(run.execution.inputs)].append(record.outputs_digest)
    shared = [outputs for outputs in groups.values() if len(outputs) > 1]
    return {
        "repeated_runs": sum(len(outputs) for outputs in shared),
        "groups": len(shared),
        "differing_groups": sum(1 for outputs in shared if len(set(outputs)) > 1),
    }


def parallel_hints(workflow: str, rows: dict[str, dict[str, Any]], definition: Definition) -> list[dict[str, Any]]:
    """Steps ordered only by position that read nothing of the step before them."""
    found = []
    for step in definition.list_steps("steps"):
        if not step.needs_by_position or len(step.needs) != 1:
            continue
        before = _step(definition, step.needs[0])
        if before is None or reads(step, before.id):
            continue
        first, second = rows.get(before.id), rows.get(step.id)
        if not first or not second or not first["p50_seconds"] or not second["p50_seconds"]:
            continue
        saving = min(first["p50_seconds"], second["p50_seconds"])
        evidence = {
            "first": before.id,
            "first_p50_seconds": first["p50_seconds"],
            "second": step.id,
            "second_p50_seconds": second["p50_seconds"],
            "runs_with_both_executed": min(first["executed"], second["executed"]),
            "saving_per_run_seconds": saving,
        }
        found.append(
            _hint(
                "parallel",
                workflow,
                [before.id, step.id],
                f"{step.id} ({human_seconds(second['p50_seconds'])} median) waits for {before.id} "
                f"({human_seconds(first['p50_seconds'])} median) only because it comes next in the list and "
                f"reads nothing of it; with `needs: [{', '.join(before.needs)}]` they could run side by side, "
                f"up to {human_seconds(saving)} sooner per run (unless it uses files {before.id} writes)",
                evidence,
            )
        )
    return found


def flaky_hints(workflow: str, rows: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps that passed only after retries, with what the retries cost."""
    found = []
    for row in rows.values():
        if row["flaky"] < MIN_FLAKY_UNITS or row["retry_seconds"] <= 0:
            continue
        evidence = {name: row[name] for name in ("units", "retried", "flaky", "flaky_rate", "retry_seconds")}
        found.append(
            _hint(
                "flaky",
                workflow,
                [row["step"]],
                f"{row['step']} passed only after retries in {row['flaky']} of {row['units']} runs "
                f"({_percent(row['flaky_rate'])}); its retries cost {human_seconds(row['retry_seconds'])} in all",
                evidence,
            )
        )
    return found


def reads(step: StepDef, other_id: str) -> bool:
    """True when anything in ``step``'s definition names ``other_id`` (a conservative test:
    a mention in a command counts too, so no hint is given for it)."""
    text = json.dumps(
        [step.body.fields, step.body.env, step.outputs, step.when, step.for_each, step.cache_key], default=str
    )
    return re.search(rf"(?<![\w-]){re.escape(other_id)}(?![\w-])", text) is not None


def _step(definition: Definition, step_id: str) -> StepDef | None:
    try:
        return definition.step(step_id)
    except KeyError:
        return None


def _percent(value: float | None) -> str:
    return f"{value * 100:.0f}%" if value is not None else "n/a"


def _hint(kind: str, workflow: str, steps: list[str], message: str, evidence: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "workflow": workflow, "steps": steps, "message": message, "evidence": evidence}
