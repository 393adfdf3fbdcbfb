"""A worker invocation in a process of its own, to be killed mid-step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.aws.harness import AwsHarness
from tests.aws.moto_stack import environment

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


@contextmanager
def doomed_worker(
    harness: AwsHarness, root: Path, messages: list[dict[str, Any]], *, lease_seconds: float = 2.0
) -> Iterator[subprocess.Popen[bytes]]:
    """Start the worker handler on ``messages`` in another process (short leases)."""
    env = {
        **os.environ,
        **environment(harness.settings),
        "BATON_WORKSPACE_ROOT": str(root / "doomed"),
        "BATON_LEASE_SECONDS": str(lease_seconds),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "lambdas")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.aws.lambda_process", "worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    assert process.stdin is not None
    process.stdin.write(json.dumps(harness.sqs_event(messages)).encode())
    process.stdin.close()
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
