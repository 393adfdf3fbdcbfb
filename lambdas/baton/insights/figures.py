"""The figures of ``baton stats``, computed from recorded runs.

Per workflow: executions by status, success rate (succeeded of those that ended), p50/p95
duration; per step: p50/p95 duration of the runs that executed it, failures grouped by
error, retry and flakiness rates, cache hit rate with the time, tokens and dollars the hits
saved (each hit is credited with the step's median executed duration and mean usage), and
agent usage; the critical path of the latest ended run. Durations are in seconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from baton.engine.records import FAILED, SUCCEEDED, TERMINAL_EXECUTION
from baton.engine.summary import FAILURE_TEXT_LIMIT, StepSummary
from baton.engine.views import iso
from baton.insights.critical import critical_path
from baton.insights.history import Run, percentile, ran, restored, total_usage, usage_of

ERROR_TEXT_LIMIT = FAILURE_TEXT_LIMIT


def rate(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide."""
    return round(part / whole, 4) if whole else None


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def error_group(record: StepSummary) -> str:
    """The part of an error message failures are grouped by (its first line)."""
    return record.failure or "failed"


def compute_stats(runs: list[Run]) -> dict[str, Any]:
    """Every figure, per workflow, JSON-ready; ``runs`` newest first."""
    by_workflow: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        by_workflow[run.workflow].append(run)
    return {
        "executions": len(runs),
        "workflows": [workflow_stats(name, group) for name, group in sorted(by_workflow.items())],
    }


def workflow_stats(name: str, runs: list[Run]) -> dict[str, Any]:
    """The figures of one workflow's runs."""
    statuses: dict[str, int] = defaultdict(int)
    for run in runs:
        statuses[run.execution.status] += 1
    ended = sum(statuses.get(s, 0) for s in TERMINAL_EXECUTION)
    durations = [d for run in runs if run.execution.status in TERMINAL_EXECUTION if (d := run.execution.duration)]
    steps = step_table(runs)
    latest = next((run for run in runs if run.execution.status in TERMINAL_EXECUTION), runs[0])
    return {
        "workflow": name,
        "executions": len(runs),
        "statuses": dict(sorted(statuses.items())),
        "success_rate": rate(statuses.get(SUCCEEDED, 0), ended),
        "p50_seconds": _round(percentile(durations, 0.5)),
        "p95_seconds": _round(percentile(durations, 0.95)),
        "steps": steps,
        "failures": failure_groups(runs),
        "retries": _sum_retries(steps),
        "cache": _sum_cache(steps),
        "usage": {"tokens": sum(s["tokens"] for s in steps), "cost_usd": round(sum(s["cost_usd"] for s in steps), 6)},
        "critical_path": {
            "execution_id": latest.execution.execution_id,
            "started_at": iso(latest.execution.started_at),
            "steps": [asdict(step) for step in critical_path(latest)],
        },
    }


def step_table(runs: list[Run]) -> list[dict[str, Any]]:
    """One row per step id, in definition order (then by first appearance)."""
    wholes: dict[str, list[StepSummary]] = defaultdict(list)
    units: dict[str, list[StepSummary]] = defaultdict(list)
    for run in runs:
        for record in run.steps:
            wholes[record.step_id].append(record)
        no_cache = run.execution.no_cache
        for record in run.units:
            if not (no_cache and not record.cache_hit):
                units[record.step_id].append(record)
    order = _definition_order(runs)
    ids = sorted(wholes, key=lambda step_id: (order.get(step_id, len(order)), step_id))
    return [_step_row(step_id, wholes[step_id], units[step_id], _type_of(runs, step_id)) for step_id in ids]


def _step_row(step_id: str, wholes: list[StepSummary], units: list[StepSummary], kind: str) -> dict[str, Any]:
    executed = [d for r in wholes if ran(r) and (d := r.duration) is not None]
    executed_units = [r for r in units if ran(r)]
    hits = [r for r in units if restored(r)]
    usage = total_usage(executed_units)
    row: dict[str, Any] = {
        "step": step_id,
        "type": kind,
        "runs": len(wholes),
        "executed": len(executed),
        "cached": sum(1 for r in wholes if restored(r)),
        "skipped": sum(1 for r in wholes if r.status == "skipped"),
        "failed": sum(1 for r in wholes if r.status == FAILED),
        "p50_seconds": _round(percentile(executed, 0.5)),
        "p95_seconds": _round(percentile(executed, 0.95)),
        "tokens": usage.tokens,
        "cost_usd": round(usage.cost_usd, 6),
    }
    row.update(retry_figures(executed_units))
    row.update(cache_figures(units, hits, executed_units))
    return row


def retry_figures(executed: list[StepSummary]) -> dict[str, Any]:
    """Units retried (more than one try), flaky (succeeded only after retries), and the time
    the retries cost: each retried unit's duration beyond the step's median first-try success."""
    retried = [r for r in executed if r.tries > 1]
    flaky = [r for r in retried if r.status == SUCCEEDED]
    first_try = [d for r in executed if r.tries <= 1 and r.status == SUCCEEDED if (d := r.duration) is not None]
    baseline = percentile(first_try, 0.5)
    cost = 0.0
    for record in retried:
        took = record.duration or 0.0
        cost += max(0.0, took - baseline) if baseline is not None else took * (record.tries - 1) / record.tries
    return {
        "units": len(executed),
        "retried": len(retried),
        "flaky": len(flaky),
        "retry_rate": rate(len(retried), len(executed)),
        "flaky_rate": rate(len(flaky), sum(1 for r in executed if r.status == SUCCEEDED)),
        "retry_seconds": round(cost, 3),
    }


def cache_figures(units: list[StepSummary], hits: list[StepSummary], executed: list[StepSummary]) -> dict[str, Any]:
    """Lookups (units of a step with a cache key), hits, and what the hits saved."""
    lookups = [r for r in units if r.cache_key is not None or restored(r)]
    done = [r for r in executed if r.status == SUCCEEDED and r.cache_key is not None]
    median = percentile([d for r in done if (d := r.duration) is not None], 0.5) or 0.0
    usage = [usage_of(r) for r in done]
    mean_tokens = sum(u.tokens for u in usage) / len(usage) if usage else 0.0
    mean_cost = sum(u.cost_usd for u in usage) / len(usage) if usage else 0.0
    return {
        "cache_lookups": len(lookups),
        "cache_hits": len(hits),
        "cache_hit_rate": rate(len(hits), len(lookups)),
        "saved_seconds": round(len(hits) * median, 3),
        "saved_tokens": round(len(hits) * mean_tokens),
        "saved_cost_usd": round(len(hits) * mean_cost, 6),
    }


def failure_groups(runs: list[Run]) -> list[dict[str, Any]]:
    """Failed units grouped by step and error, most frequent first."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        for record in run.units:
            if record.status != FAILED:
                continue
            key = (record.step_id, error_group(record))
            group = groups.setdefault(
                key, {"step": key[0], "error": key[1], "count": 0, "last_execution": record.execution_id}
            )
            group["count"] += 1
    return sorted(groups.values(), key=lambda g: (-g["count"], g["step"], g["error"]))


def _sum_retries(steps: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(steps)
    units, retried, flaky = (sum(r[name] for r in rows) for name in ("units", "retried", "flaky"))
    return {
        "units": units,
        "retried": retried,
        "flaky": flaky,
        "retry_rate": rate(retried, units),
        "retry_seconds": round(sum(r["retry_seconds"] for r in rows), 3),
    }


def _sum_cache(steps: Iterable[dict[str, Any]]) -> dict[str, Any]:
    rows = list(steps)
    lookups, hits = sum(r["cache_lookups"] for r in rows), sum(r["cache_hits"] for r in rows)
    return {
        "lookups": lookups,
        "hits": hits,
        "hit_rate": rate(hits, lookups),
        "saved_seconds": round(sum(r["saved_seconds"] for r in rows), 3),
        "saved_tokens": sum(r["saved_tokens"] for r in rows),
        "saved_cost_usd": round(sum(r["saved_cost_usd"] for r in rows), 6),
    }


def _definition_order(runs: list[Run]) -> dict[str, int]:
    for run in runs:
        if run.definition is not None:
            return {step.id: index for index, step in enumerate(run.definition.steps)}
    return {}


def _type_of(runs: list[Run], step_id: str) -> str:
    for run in runs:
        if run.definition is not None:
            try:
                return run.definition.step(step_id).type
            except KeyError:
                continue
    return "?"


def stats_document(runs: list[Run], since: str | None = None, workflow: str | None = None) -> dict[str, Any]:
    """What ``baton stats --json`` prints: the query, the figures and the hints."""
    from baton.insights.hints import hints_for

    stats = compute_stats(runs)
    return {"since": since, "workflow": workflow, **stats, "hints": hints_for(runs, stats)}
