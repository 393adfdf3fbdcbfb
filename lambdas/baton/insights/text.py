"""``baton stats`` for a terminal: one block per workflow, then the hints."""

from __future__ import annotations

from typing import Any

from baton.insights.hints import human_seconds


def _pct(value: float | None) -> str:
    return f"{value * 100:.1f}%" if value is not None else "-"


def _secs(value: float | None) -> str:
    return human_seconds(value) if value is not None else "-"


def stats_text(document: dict[str, Any]) -> str:
    """The stats document as aligned plain text."""
    window = f" since {document['since']}" if document.get("since") else ""
    lines = [f"{document['executions']} executions{window}"]
    for figures in document["workflows"]:
        lines += ["", *_workflow_lines(figures)]
    lines += ["", "hints:" if document["hints"] else "hints: none (the history supports none)"]
    lines += [f"  [{hint['kind']}] {hint['workflow']}: {hint['message']}" for hint in document["hints"]]
    return "\n".join(lines)


def _workflow_lines(figures: dict[str, Any]) -> list[str]:
    statuses = ", ".join(f"{count} {status}" for status, count in figures["statuses"].items())
    cache, retries, usage = figures["cache"], figures["retries"], figures["usage"]
    lines = [
        f"{figures['workflow']}: {figures['executions']} executions ({statuses}), "
        f"success {_pct(figures['success_rate'])}, p50 {_secs(figures['p50_seconds'])}, "
        f"p95 {_secs(figures['p95_seconds'])}",
        f"  cache: {cache['hits']} hits of {cache['lookups']} lookups ({_pct(cache['hit_rate'])}), saved "
        f"{_secs(cache['saved_seconds'])}, {cache['saved_tokens']} tokens, ${cache['saved_cost_usd']:.4f}",
        f"  retries: {retries['retried']} of {retries['units']} units retried ({_pct(retries['retry_rate'])}), "
        f"{retries['flaky']} flaky, retries cost {_secs(retries['retry_seconds'])}",
    ]
    if usage["tokens"] or usage["cost_usd"]:
        lines.append(f"  agents: {usage['tokens']} tokens, ${usage['cost_usd']:.4f}")
    header = (
        f"  {'step':<24} {'type':<8} {'runs':>5} {'p50':>10} {'p95':>10} {'failed':>6} "
        f"{'retry':>7} {'flaky':>7} {'cache':>7}"
    )
    lines.append(header)
    for row in figures["steps"]:
        lines.append(
            f"  {row['step']:<24} {row['type']:<8} {row['runs']:>5} {_secs(row['p50_seconds']):>10} "
            f"{_secs(row['p95_seconds']):>10} {row['failed']:>6} {_pct(row['retry_rate']):>7} "
            f"{_pct(row['flaky_rate']):>7} {_pct(row['cache_hit_rate']):>7}"
        )
    for failure in figures["failures"][:10]:
        lines.append(f"  failed {failure['count']}x {failure['step']}: {failure['error']}")
    path = figures["critical_path"]
    chain = " -> ".join(f"{s['step_id']} ({_secs(s['seconds'])})" for s in path["steps"]) or "-"
    lines.append(f"  critical path of {path['execution_id']}: {chain}")
    return lines
