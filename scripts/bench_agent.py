"""`make bench`: the engine's overhead per agent turn, the model answering at once.

One `agent` step (provider `bedrock`, real boto3) against the scripted model server on
127.0.0.1, whose every turn is one `list_files` tool call answered without delay, for a
short and a long conversation; the cost of a turn is the slope of the step's in-run time
(from its record) between the two. That covers one Converse request through boto3, the
server's answer, one tool call, and the transcript line, so it is an upper bound of what
Baton adds to each turn of a real model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from baton.testing.modelserver import ModelServer

BATON = str(Path(sys.executable).with_name("baton"))
WORKFLOW = """
name: agent-bench
steps:
  - id: agent
    type: agent
    provider: bedrock
    prompt: list the files
    max_turns: 1000
"""


def _seconds(step: dict[str, str]) -> float:
    started, finished = (datetime.fromisoformat(step[k].replace("Z", "+00:00")) for k in ("started_at", "finished_at"))
    return (finished - started).total_seconds()


def step_seconds(turns: int, repeats: int, scratch: Path) -> float:
    """The median in-run seconds of the agent step over ``repeats`` runs of ``turns`` turns."""
    script = {"turns": [{"tools": [{"name": "list", "input": {}}]}] * (turns - 1) + [{"text": "done"}]}
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
    }
    samples = []
    with ModelServer(script) as server:
        env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = server.url
        for _ in range(repeats):
            result = subprocess.run(
                [BATON, "run", "wf.yaml", "--json", "--state-dir", str(scratch.parent / "state"), "--no-cache"],
                cwd=scratch,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise SystemExit(f"baton run failed: {result.stderr}{result.stdout[-3000:]}")
            step = json.loads(result.stdout)["steps"]["agent"]
            assert step["outputs"]["turns"] == turns, step
            samples.append(_seconds(step))
    return statistics.median(samples)


def main() -> None:
    """Print the per-turn cost."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, nargs=2, default=[1, 41])
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="baton-bench-agent-"))
    scratch = root / "workspace"  # not /tmp itself: the agent step checks the files beside it
    scratch.mkdir()
    try:
        (scratch / "wf.yaml").write_text(WORKFLOW)
        short, long = options.turns
        seconds = {n: step_seconds(n, options.repeats, scratch) for n in (short, long)}
        per_turn = (seconds[long] - seconds[short]) / (long - short)
        print(
            f"agent step (bedrock, scripted model answering at once): {seconds[short] * 1000:.1f} ms for {short} "
            f"turn, {seconds[long] * 1000:.1f} ms for {long} turns: {per_turn * 1000:.2f} ms per turn"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
