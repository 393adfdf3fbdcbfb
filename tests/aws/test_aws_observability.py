"""Observability of the handlers: a trace subsegment per step with its annotations, the EMF
metrics of the issue, and a worker module that imports nothing heavy until invoked."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.aws.harness import AwsHarness

from baton.adapters.aws.relay import Delivery, Relay
from baton.adapters.aws.sqs_dispatcher import StepMessage
from baton.handlers.observability import PowertoolsHooks, metrics

WORKFLOW = """
name: observed
steps:
  - id: build
    cache_key: "v1"
    command: echo built
  - id: fail
    command: exit 1
"""


class FakeSubsegment:
    def __init__(self, name: str) -> None:
        self.name = name
        self.annotations: dict[str, Any] = {}

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value


class FakeProvider:
    """Stands in for the X-Ray provider (disabled outside Lambda) and keeps what it got."""

    def __init__(self) -> None:
        self.subsegments: list[FakeSubsegment] = []

    @contextmanager
    def in_subsegment(self, name: str) -> Iterator[FakeSubsegment]:
        subsegment = FakeSubsegment(name)
        self.subsegments.append(subsegment)
        yield subsegment


def run_with_hooks(harness: AwsHarness, execution_id: str, hooks: PowertoolsHooks) -> None:
    backend = harness.backend
    relay = Relay(backend.engine("observed"), backend.store, backend.queue, backend.publisher,
                  remaining_seconds=lambda: 600.0, workspace_root=backend.workspace_root, hooks=hooks)  # fmt: skip
    relay.handle(Delivery(StepMessage(execution_id)))


def test_each_step_gets_an_annotated_subsegment_and_metrics(harness: AwsHarness) -> None:
    harness.upload("observed.yaml", WORKFLOW)
    execution_id = harness.start("observed")
    provider = FakeProvider()
    metrics.clear_metrics()

    run_with_hooks(harness, execution_id, PowertoolsHooks(provider))

    annotations = {s.name: s.annotations for s in provider.subsegments}
    assert annotations["## step build"] == {
        "workflow": "observed", "execution_id": execution_id, "step": "build", "status": "succeeded",
        "cache_hit": False,
    }  # fmt: skip
    assert annotations["## step fail"]["status"] == "failed"
    recorded = set(metrics.metric_set)
    metrics.clear_metrics()
    assert {"StepDuration", "StepFailed", "CacheMiss", "ExecutionFinished"} <= recorded


def test_importing_the_worker_handler_loads_no_sdk_until_it_is_invoked() -> None:
    code = (
        "import sys, baton.handlers.worker\n"
        "heavy = ('boto3', 'aws_xray_sdk', 'pydantic', 'jinja2', 'yaml', 'sqlite3')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
