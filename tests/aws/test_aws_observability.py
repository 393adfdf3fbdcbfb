"""Observability of the handlers: a trace subsegment per step with its annotations, the EMF
metrics of the issue, log lines that carry their execution and step, and a worker module
that imports nothing heavy until invoked."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
from tests.aws.harness import AwsHarness

from baton.adapters.aws.sqs_step_queue import StepMessage
from baton.adapters.aws.step_messages import Delivery, StepMessageHandler
from baton.handlers.observability import PowertoolsHooks, logger, metrics

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
    handler = StepMessageHandler(backend.engine("observed"), backend.store, backend.queue, backend.publisher,
                                 remaining_seconds=lambda: 600.0, workspace_root=backend.workspace_root,
                                 hooks=hooks, steps=hooks)  # fmt: skip
    handler.handle(Delivery(StepMessage(execution_id)))


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
    assert {"StepDuration", "StepFailed", "CacheMiss", "ExecutionFinished", "ExecutionFailed"} <= recorded


def test_an_execution_that_succeeds_is_finished_but_not_failed(harness: AwsHarness) -> None:
    harness.upload("observed.yaml", WORKFLOW.replace("exit 1", "exit 0"))
    execution_id = harness.start("observed")
    metrics.clear_metrics()

    run_with_hooks(harness, execution_id, PowertoolsHooks(FakeProvider()))

    recorded = dict(metrics.metric_set)
    metrics.clear_metrics()
    assert harness.execution(execution_id).status == "succeeded"
    assert {"ExecutionFinished", "ExecutionSucceeded", "ExecutionDuration"} <= set(recorded)
    assert "ExecutionFailed" not in recorded


FAN_OUT = """
name: fanned
steps:
  - id: first
    command: echo first
  - id: left
    needs: [first]
    command: echo left
  - id: right
    needs: [first]
    command: echo right
"""


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines the handlers' Powertools logger writes from now on."""
    stream = io.StringIO()
    handler = cast(logging.StreamHandler, logger.registered_handler)  # type: ignore[type-arg]
    previous = handler.setStream(stream)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        if previous is not None:
            handler.setStream(previous)


def test_every_worker_line_of_a_step_message_names_the_execution_and_the_step(
    harness: AwsHarness, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    harness.upload("fanned.yaml", FAN_OUT)
    execution_id = harness.start("fanned")
    harness.deliver(harness.receive())  # runs first and left, sends right to the queue
    (message,) = harness.receive()
    assert json.loads(message["Body"]) == {"execution_id": execution_id, "unit": "right"}
    before = len(log_lines())

    harness.deliver([message])  # runs right, which ends the execution

    lines = log_lines()[before:]
    assert [line["message"] for line in lines] == ["step log", "step ended", "execution ended", "step message handled"]
    assert [(line.get("execution_id"), line.get("step_id")) for line in lines] == [(execution_id, "right")] * 4
    assert harness.execution(execution_id).status == "succeeded"


def test_lines_of_the_units_a_message_runs_name_those_units(
    harness: AwsHarness, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    harness.upload("fanned.yaml", FAN_OUT)
    execution_id = harness.start("fanned")
    before = len(log_lines())

    harness.deliver(harness.receive())  # the first message names no unit: it starts the execution

    lines = log_lines()[before:]
    assert [(line["message"], line.get("step_id")) for line in lines] == [
        ("step log", "first"), ("step ended", "first"), ("step log", "left"), ("step ended", "left"),
        ("step message handled", None),
    ]  # fmt: skip
    assert {line.get("execution_id") for line in lines} == {execution_id}


def test_importing_the_worker_handler_loads_no_sdk_until_it_is_invoked() -> None:
    code = (
        "import sys, baton.handlers.worker\n"
        "heavy = ('boto3', 'aws_xray_sdk', 'pydantic', 'jinja2', 'yaml', 'sqlite3')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("outputs", "cache_hit", "expected"),
    [
        ({"text": "ok", "usage": {"input_tokens": 1200, "output_tokens": 300}, "cost_usd": 0.0125}, False,
         {"AgentInputTokens": [1200.0], "AgentOutputTokens": [300.0], "AgentCostUSD": [0.0125]}),
        ({"text": "ok", "usage": {"input_tokens": 1200, "output_tokens": 300}, "cost_usd": 0.0125}, True,
         {"AgentSavedInputTokens": [1200.0], "AgentSavedOutputTokens": [300.0], "AgentSavedCostUSD": [0.0125]}),
        ({"exit_code": 0, "stdout": "", "stderr": ""}, False, {}),
    ],
    ids=["agent-step", "restored-from-cache", "shell-step"],
)  # fmt: skip
def test_agent_usage_becomes_token_and_cost_metrics(
    outputs: dict[str, Any], cache_hit: bool, expected: dict[str, list[float]]
) -> None:
    from datetime import UTC, datetime

    from baton.engine.records import ExecutionRecord, StepRecord

    moment = datetime(2026, 12, 2, tzinfo=UTC)
    execution = ExecutionRecord("e1", "wf", "d" * 64, started_at=moment)
    status = "cached" if cache_hit else "succeeded"
    record = StepRecord("e1", "ask", "ask", status=status, outputs=outputs, cache_hit=cache_hit,
                        started_at=moment, finished_at=moment)  # fmt: skip
    metrics.clear_metrics()
    PowertoolsHooks(FakeProvider()).step_ended(execution, record)
    recorded = {name: entry["Value"] for name, entry in metrics.metric_set.items() if name.startswith("Agent")}
    metrics.clear_metrics()
    assert recorded == expected
