"""How long ``baton stats`` takes on 10,000 recorded executions.

Twenty executions of ``tests/functional/history/pipeline.yaml`` are really run; their
records are then copied, with new ids and start times spread over six days, through the
``StateStore`` port into one SQLite state until it holds ``--executions`` of them. The
command is timed end to end (process start included) and in-process (read, figures, hints),
and the read alone (``list_history_summaries``: the step summaries SQLite keeps in columns).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "functional"))

from history_runs import pipeline_inputs  # noqa: E402

from baton.bootstrap import local_engine  # noqa: E402
from baton.engine.records import ExecutionRecord, StepRecord  # noqa: E402

BATON = str(Path(sys.executable).with_name("baton"))


def seed(state_dir: Path, workspace: Path, count: int) -> None:
    """Run a few real executions, then copy their records until there are ``count``."""
    engine = local_engine(state_dir, {"PATH": "/usr/bin:/bin"})
    definition, digest = engine.load(ROOT / "tests" / "functional" / "history" / "pipeline.yaml")
    rng = random.Random(7)
    templates: list[tuple[ExecutionRecord, list[StepRecord]]] = []
    for _ in range(20):
        execution = engine.start(definition, digest, pipeline_inputs(rng), workspace=workspace)
        engine.drive(execution.execution_id)
    templates = engine.ports.store.list_history()
    origin = datetime.now(UTC) - timedelta(days=6)
    for index in range(count - len(templates)):
        execution, records = templates[index % len(templates)]
        new_id = f"bench-{index:06d}"
        shift = origin + timedelta(seconds=index * 6 * 86400 / count) - (execution.started_at or origin)
        moved = execution.evolve(execution_id=new_id, started_at=_plus(execution.started_at, shift),
                                 finished_at=_plus(execution.finished_at, shift))  # fmt: skip
        steps = [
            r.evolve(
                execution_id=new_id, started_at=_plus(r.started_at, shift), finished_at=_plus(r.finished_at, shift)
            )
            for r in records
        ]
        engine.ports.store.create_execution(moved, steps)


def _plus(moment: datetime | None, shift: timedelta) -> datetime | None:
    return moment + shift if moment is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="baton-bench-stats-"))
    try:
        state_dir = scratch / ".baton"
        seed(state_dir, scratch, options.executions)
        from baton.bootstrap import local_ports
        from baton.insights.figures import stats_document
        from baton.insights.history import load_runs, paused_garbage_collection

        load_before = os.getloadavg()[0]
        inside, reads = [], []
        for _ in range(options.repeats):
            started = time.perf_counter()
            document = stats_document(load_runs(local_ports(state_dir).store, None))
            inside.append(time.perf_counter() - started)
        store = local_ports(state_dir).store
        for _ in range(options.repeats):
            started = time.perf_counter()
            with paused_garbage_collection():
                store.list_history_summaries()
            reads.append(time.perf_counter() - started)
        command = [BATON, "stats", "--since", "7d", "--json", "--state-dir", str(state_dir)]
        walls = []
        for _ in range(options.repeats):
            started = time.perf_counter()
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            walls.append(time.perf_counter() - started)
        counted = json.loads(output)["executions"]
        assert counted == document["executions"] == options.executions, (counted, document["executions"])
        print(
            f"`baton stats` on {counted} executions ({len(document['hints'])} hints): "
            f"{statistics.median(walls):.3f} s median end to end, "
            f"{statistics.median(inside):.3f} s median in-process (read {counted} executions with their steps, "
            f"figures, hints; the read alone {statistics.median(reads):.3f} s); "
            f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
