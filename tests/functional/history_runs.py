"""A recorded history made by really running workflows on the embedded backend.

``pipeline.yaml`` gets random inputs (seeded) that inject delays, one-off and permanent
failures, skips and cache hits; ``fanout.yaml`` adds ``for_each`` items, one failing now
and then. Runs go four at a time, as they would from several terminals.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton.bootstrap import local_engine

HERE = Path(__file__).parent / "history"
PIPELINE_RUNS = 500
FANOUT_RUNS = 24


@dataclass(frozen=True)
class History:
    """Where the history is and what was asked of it."""

    workspace: Path
    state_dir: Path
    statuses: dict[str, str]
    """Execution id -> final status, as the engine returned it."""


def pipeline_inputs(rng: random.Random) -> dict[str, Any]:
    return {
        "variant": rng.randrange(3),
        "flaky": rng.choice(["no"] * 6 + ["once"] * 3 + ["always"]),
        "fail": rng.random() < 0.08,
        "skip_lint": rng.random() < 0.2,
    }


def make_history(workspace: Path, seed: int = 12) -> History:
    """Run the workflows; return where their records are."""
    state_dir = workspace / ".baton"
    engine = local_engine(state_dir, {"PATH": "/usr/bin:/bin"})
    rng = random.Random(seed)
    pipeline = engine.load(HERE / "pipeline.yaml")
    fanout = engine.load(HERE / "fanout.yaml")
    jobs = [(pipeline, pipeline_inputs(rng)) for _ in range(PIPELINE_RUNS)]
    jobs += [(fanout, {"bad": rng.choice([-1, -1, -1, 2])}) for _ in range(FANOUT_RUNS)]

    def run(job: tuple[Any, dict[str, Any]]) -> tuple[str, str]:
        (definition, digest), inputs = job
        execution = engine.start(definition, digest, inputs, workspace=workspace)
        return execution.execution_id, engine.drive(execution.execution_id).status

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = dict(pool.map(run, jobs))
    return History(workspace, state_dir, statuses)
