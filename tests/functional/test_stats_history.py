"""``baton stats`` on a history of more than 500 really-run executions.

The figures are recounted here straight from the SQLite rows (not through Baton's readers),
and every hint the command prints is checked against those rows.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import statistics
import subprocess
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from baton_cli import BATON
from history_runs import FANOUT_RUNS, HERE, PIPELINE_RUNS, History


def stats(history: History, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BATON, "stats", "--state-dir", str(history.state_dir), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def document(history: History) -> dict[str, Any]:
    result = stats(history, "--json", "--since", "1d")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def rows(history: History) -> dict[str, Any]:
    """Executions and step records as the database holds them."""
    db = sqlite3.connect(history.state_dir / "state.db")
    executions = {row[0]: json.loads(row[1]) for row in db.execute("SELECT id, data FROM executions")}
    steps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for execution_id, data in db.execute("SELECT execution_id, data FROM steps"):
        steps[execution_id].append(json.loads(data))
    return {"executions": executions, "steps": steps}


def took(record: dict[str, Any]) -> float:
    return (
        datetime.fromisoformat(record["finished_at"]) - datetime.fromisoformat(record["started_at"])
    ).total_seconds()


def quantile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def workflow_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(w for w in document["workflows"] if w["workflow"] == name)


def records_of(rows: dict[str, Any], workflow: str, step: str, kinds: tuple[str, ...] = ("step",)) -> list[dict]:
    found = []
    for execution_id, execution in rows["executions"].items():
        if execution["workflow"] == workflow:
            found += [r for r in rows["steps"][execution_id] if r["step_id"] == step and r["kind"] in kinds]
    return found


def executed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["status"] in ("succeeded", "failed", "cancelled") and not r["cache_hit"]]


def test_the_history_is_big_and_mixed(history: History, rows: dict[str, Any]) -> None:
    assert len(rows["executions"]) == PIPELINE_RUNS + FANOUT_RUNS >= 500
    assert {"succeeded", "failed"} <= set(history.statuses.values())


@pytest.mark.parametrize("workflow", ["pipeline", "fanout"])
def test_success_rate_and_durations_per_workflow_match_a_recount(
    document: dict[str, Any], rows: dict[str, Any], workflow: str
) -> None:
    mine = [e for e in rows["executions"].values() if e["workflow"] == workflow]
    counts = Counter(e["status"] for e in mine)
    figures = workflow_of(document, workflow)
    assert figures["executions"] == len(mine)
    assert figures["statuses"] == dict(counts)
    assert figures["success_rate"] == round(counts["succeeded"] / len(mine), 4)
    durations = [took(e) for e in mine]
    assert figures["p50_seconds"] == pytest.approx(quantile(durations, 50), abs=1e-3)
    assert figures["p95_seconds"] == pytest.approx(quantile(durations, 95), abs=1e-3)


@pytest.mark.parametrize("step", ["prepare", "lint", "flaky", "build", "check"])
def test_step_durations_and_counts_match_a_recount(document: dict[str, Any], rows: dict[str, Any], step: str) -> None:
    records = records_of(rows, "pipeline", step)
    row = next(r for r in workflow_of(document, "pipeline")["steps"] if r["step"] == step)
    ran = [took(r) for r in executed(records)]
    assert (row["runs"], row["executed"]) == (len(records), len(ran))
    assert row["skipped"] == sum(r["status"] == "skipped" for r in records)
    assert row["failed"] == sum(r["status"] == "failed" for r in records)
    assert row["p50_seconds"] == pytest.approx(quantile(ran, 50), abs=1e-3)
    assert row["p95_seconds"] == pytest.approx(quantile(ran, 95), abs=1e-3)


def test_failures_are_grouped_by_step_and_error(document: dict[str, Any], rows: dict[str, Any]) -> None:
    expected: Counter[tuple[str, str]] = Counter()
    for execution_id, execution in rows["executions"].items():
        for r in rows["steps"][execution_id]:
            is_unit = r["kind"] == "item" or (r["kind"] == "step" and r["item_count"] is None)
            if is_unit and r["status"] == "failed":
                expected[(execution["workflow"], r["step_id"], r["error"].splitlines()[0])] += 1
    got = Counter()
    for figures in document["workflows"]:
        for failure in figures["failures"]:
            got[(figures["workflow"], failure["step"], failure["error"])] = failure["count"]
    assert got == expected
    assert ("pipeline", "check", "injected failure") in got
    assert any(step == "flaky" for _, step, _ in got)
    assert any(step == "items" for _, step, _ in got)


def test_retries_flakiness_and_cache_match_a_recount(document: dict[str, Any], rows: dict[str, Any]) -> None:
    figures = workflow_of(document, "pipeline")
    flaky = executed(records_of(rows, "pipeline", "flaky"))
    row = next(r for r in figures["steps"] if r["step"] == "flaky")
    assert row["retried"] == sum(r["tries"] > 1 for r in flaky) > 0
    assert row["flaky"] == sum(r["tries"] > 1 and r["status"] == "succeeded" for r in flaky) > 0
    build = records_of(rows, "pipeline", "build")
    hits = [r for r in build if r["cache_hit"]]
    lookups = [r for r in build if r["cache_key"] or r["cache_hit"]]
    cache_row = next(r for r in figures["steps"] if r["step"] == "build")
    assert (cache_row["cache_hits"], cache_row["cache_lookups"]) == (len(hits), len(lookups))
    assert len(hits) > 0
    median = quantile([took(r) for r in executed(build) if r["status"] == "succeeded"], 50)
    assert cache_row["saved_seconds"] == pytest.approx(len(hits) * median, abs=1e-2)
    assert figures["cache"]["hit_rate"] == round(len(hits) / len(lookups), 4)


def test_the_critical_path_follows_the_latest_run(document: dict[str, Any], rows: dict[str, Any]) -> None:
    figures = workflow_of(document, "pipeline")
    path = figures["critical_path"]
    latest = max(
        (e for e in rows["executions"].values() if e["workflow"] == "pipeline"),
        key=lambda e: (e["started_at"], e["execution_id"]),
    )
    assert path["execution_id"] == latest["execution_id"]
    records = {r["step_id"]: r for r in rows["steps"][latest["execution_id"]]}
    ids = [step["step_id"] for step in path["steps"]]
    # The chain ends at the step that finished last, and each step needs the one before it.
    last = max((r for r in records.values() if r["finished_at"]), key=lambda r: r["finished_at"])
    assert ids[-1] == last["step_id"]
    needs = {"lint": ["prepare"], "flaky": ["prepare"], "build": ["lint", "flaky"], "check": ["build"]}
    for before, after in itertools.pairwise(ids):
        assert before in needs[after]
        siblings = [records[n]["finished_at"] for n in needs[after]]
        assert records[before]["finished_at"] == max(siblings)


def check_cache_hint(hint: dict[str, Any], document: dict[str, Any], rows: dict[str, Any]) -> None:
    (step,) = hint["steps"]
    spec = {s["id"]: s for s in yaml.safe_load((HERE / f"{hint['workflow']}.yaml").read_text())["steps"]}[step]
    assert "cache_key" not in spec
    assert "cache" not in spec
    figures = workflow_of(document, hint["workflow"])
    assert step in [s["step_id"] for s in figures["critical_path"]["steps"]]
    records = executed(records_of(rows, hint["workflow"], step))
    assert all(r["status"] == "succeeded" and r["tries"] == 1 for r in records)
    ran = [took(r) for r in records]
    assert hint["evidence"]["p50_seconds"] == pytest.approx(quantile(ran, 50), abs=1e-3)
    assert hint["evidence"]["p50_seconds"] >= 0.2 * figures["p50_seconds"]
    groups: dict[str, set[str]] = defaultdict(set)
    sizes: Counter[str] = Counter()
    for execution_id, execution in rows["executions"].items():
        if execution["workflow"] != hint["workflow"]:
            continue
        for r in rows["steps"][execution_id]:
            if r["step_id"] == step and r["status"] == "succeeded" and not r["cache_hit"]:
                key = json.dumps(execution["inputs"], sort_keys=True)
                groups[key].add(json.dumps(r["outputs"], sort_keys=True))
                sizes[key] += 1
    shared = [key for key, size in sizes.items() if size > 1]
    assert all(len(groups[key]) == 1 for key in shared)
    assert hint["evidence"]["repeated_runs"] == sum(sizes[key] for key in shared)
    assert hint["evidence"]["avoidable_runs"] == sum(sizes[key] for key in shared) - len(shared)


def check_parallel_hint(hint: dict[str, Any], document: dict[str, Any], rows: dict[str, Any]) -> None:
    first, second = hint["steps"]
    listed = yaml.safe_load((HERE / f"{hint['workflow']}.yaml").read_text())["steps"]
    ids = [s["id"] for s in listed]
    spec = listed[ids.index(second)]
    assert ids.index(second) == ids.index(first) + 1
    assert "needs" not in spec
    assert first not in json.dumps(spec)
    for name, key in ((first, "first_p50_seconds"), (second, "second_p50_seconds")):
        ran = [took(r) for r in executed(records_of(rows, hint["workflow"], name))]
        assert hint["evidence"][key] == pytest.approx(quantile(ran, 50), abs=1e-3)
        assert hint["evidence"][key] > 0


def check_flaky_hint(hint: dict[str, Any], document: dict[str, Any], rows: dict[str, Any]) -> None:
    (step,) = hint["steps"]
    ran = executed(records_of(rows, hint["workflow"], step, ("step", "item")))
    ran = [r for r in ran if r["item_count"] is None]
    flaky = [r for r in ran if r["tries"] > 1 and r["status"] == "succeeded"]
    assert hint["evidence"]["flaky"] == len(flaky) >= 2
    baseline = quantile([took(r) for r in ran if r["tries"] <= 1 and r["status"] == "succeeded"], 50)
    cost = sum(max(0.0, took(r) - baseline) for r in ran if r["tries"] > 1)
    assert hint["evidence"]["retry_seconds"] == pytest.approx(cost, abs=1e-2)
    assert f"{len(flaky)} of {len(ran)} runs" in hint["message"]


CHECKS = {"cache": check_cache_hint, "parallel": check_parallel_hint, "flaky": check_flaky_hint}


def test_every_hint_is_borne_out_by_the_history(document: dict[str, Any], rows: dict[str, Any]) -> None:
    kinds = Counter(hint["kind"] for hint in document["hints"])
    assert {"cache", "parallel", "flaky"} <= set(kinds)
    assert [h["steps"] for h in document["hints"] if h["kind"] == "cache"] == [["prepare"]]
    for hint in document["hints"]:
        CHECKS[hint["kind"]](hint, document, rows)
    pairs = [tuple(h["steps"]) for h in document["hints"] if h["kind"] == "parallel"]
    assert ("prepare", "lint") in pairs  # lint reads nothing of prepare
    assert ("lint", "flaky") not in pairs  # flaky declares its needs


def test_the_text_report_prints_every_hint_with_its_numbers(history: History, document: dict[str, Any]) -> None:
    result = stats(history, "--since", "1d")
    assert result.returncode == 0, result.stderr
    for hint in document["hints"]:
        assert hint["message"] in result.stdout
    assert "pipeline: 500 executions" in result.stdout


def test_one_workflow_and_a_later_start_narrow_the_history(history: History, rows: dict[str, Any]) -> None:
    starts = sorted(e["started_at"] for e in rows["executions"].values())
    middle = starts[len(starts) // 2]
    result = stats(history, "fanout", "--since", middle, "--json")
    narrowed = json.loads(result.stdout)
    expected = sum(e["workflow"] == "fanout" and e["started_at"] >= middle for e in rows["executions"].values())
    assert narrowed["executions"] == expected
    assert {w["workflow"] for w in narrowed["workflows"]} <= {"fanout"}


@pytest.mark.parametrize("since", ["yesterday", "7x", ""], ids=["word", "unit", "empty"])
def test_a_bad_since_is_a_clear_usage_error(history: History, since: str) -> None:
    result = stats(history, "--since", since)
    assert result.returncode == 2
    assert "expected a duration like 7d" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_empty_history_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [BATON, "stats", "--state-dir", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert "no executions since" in result.stdout


def test_stats_and_report_in_an_empty_folder_say_so_and_create_nothing(tmp_path: Path) -> None:
    import subprocess
    import sys

    baton = str(Path(sys.executable).with_name("baton"))
    for args in (["stats"], ["report", "latest"]):
        done = subprocess.run([baton, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 2, done.stderr
        assert "no executions yet" in done.stderr
        assert list(tmp_path.iterdir()) == [], "a read-only command created the state dir"
