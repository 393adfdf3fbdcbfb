"""End to end on moto: retries, compensation, duplicates, approvals and a worker that dies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.aws.harness import CALLER_ARN, AwsHarness
from tests.aws.processes import doomed_worker, wait_for
from tests.functional.baton_cli import alive, first_outputs_fail, step_events

from baton.adapters.aws.dynamodb_state import DynamoDBStateStore
from baton.engine.records import RUNNING, SUCCEEDED, StepRecord

FLAKY = """
name: flaky
steps:
  - id: flaky
    retry: {max_attempts: 3, backoff: {initial: 1s, multiplier: 2, max: 10s}}
    command: |
      echo try >> "$TEST_DIR/tries.log"
      [ "$(wc -l < "$TEST_DIR/tries.log")" -ge 3 ]
  - id: after
    command: echo done
"""


def test_a_failing_step_is_retried_with_backoff_through_delayed_messages(harness: AwsHarness, tmp_path: Path) -> None:
    harness.upload("flaky.yaml", FLAKY)

    execution_id = harness.start("flaky")
    final = harness.drain(execution_id)

    assert final.status == "succeeded", final.error
    assert len((tmp_path / "tries.log").read_text().split()) == 3
    assert harness.document(execution_id)["steps"]["flaky"]["attempts"] == 3
    delays = [inv.usage.calls[("sqs", "SendMessage")] for inv in harness.invocations]
    assert sum(delays) == 2, "each retry should leave through one delayed message"


SAGA = """
name: saga
steps:
  - id: reserve
    command: echo reserve >> "$TEST_DIR/saga.log"
    compensate: {command: 'echo release >> "$TEST_DIR/saga.log"'}
  - id: charge
    command: echo charge >> "$TEST_DIR/saga.log"
    compensate: {command: 'echo refund >> "$TEST_DIR/saga.log"'}
  - id: ship
    command: exit 3
on_failure:
  - id: alert
    command: echo alert >> "$TEST_DIR/saga.log"
"""


def test_a_failure_runs_the_compensations_newest_first(harness: AwsHarness, tmp_path: Path) -> None:
    harness.upload("saga.yaml", SAGA)

    execution_id = harness.start("saga")
    final = harness.drain(execution_id)

    assert final.status == "failed"
    assert "ship" in (final.error or "")
    assert (tmp_path / "saga.log").read_text().split() == ["reserve", "charge", "refund", "release", "alert"]
    steps = harness.document(execution_id)["steps"]
    assert (steps["reserve"]["status"], steps["charge"]["status"]) == ("compensated", "compensated")


COUNTED = """
name: counted
steps:
  - id: once
    command: echo ran >> "$TEST_DIR/once.log"
"""


def test_a_duplicate_delivery_does_not_run_the_step_twice(harness: AwsHarness, tmp_path: Path) -> None:
    harness.upload("counted.yaml", COUNTED)
    execution_id = harness.start("counted")
    (message,) = harness.receive()
    sqs = harness.plumbing("sqs")
    sqs.send_message(QueueUrl=harness.settings.step_queue_url, MessageBody=message["Body"])  # SQS delivers twice

    harness.deliver([message])
    final = harness.drain(execution_id)

    assert final.status == "succeeded"
    assert (tmp_path / "once.log").read_text().split() == ["ran"]
    assert harness.document(execution_id)["steps"]["once"]["attempts"] == 1
    assert len(harness.invocations) == 2


APPROVAL = """
name: release
steps:
  - id: build
    command: echo built
  - id: gate
    type: approval
    message: "ship {{ steps.build.outputs.stdout }}?"
  - id: ship
    command: echo "shipped after {{ steps.gate.outputs.decision }}"
"""


def test_an_approval_waits_without_compute_until_answered(harness: AwsHarness) -> None:
    harness.upload("release.yaml", APPROVAL)
    execution_id = harness.start("release")

    waiting = harness.drain(execution_id)
    assert waiting.status == "waiting"
    answered = harness.approve(execution_id, "gate", comment="go")
    final = harness.drain(execution_id)

    assert answered["accepted"] is True
    assert final.status == "succeeded"
    steps = harness.document(execution_id)["steps"]
    assert steps["gate"]["outputs"] == {"decision": "approved", "comment": "go", "by": CALLER_ARN}
    assert steps["ship"]["outputs"]["stdout"] == "shipped after approved"


def test_a_rejected_approval_fails_the_execution(harness: AwsHarness) -> None:
    harness.upload("release.yaml", APPROVAL)
    execution_id = harness.start("release")
    harness.drain(execution_id)

    harness.approve(execution_id, "gate", approve=False, comment="not today")
    final = harness.drain(execution_id)

    assert final.status == "failed"
    assert f"rejected by {CALLER_ARN}: not today" in (final.error or "")
    assert harness.document(execution_id)["steps"]["ship"]["status"] == "skipped"


def test_a_worker_that_dies_mid_step_is_replaced_after_its_lease_expires(harness: AwsHarness, tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    harness.upload(
        "slow.yaml",
        f"""
name: slow
steps:
  - id: slow
    command: |
      echo "start-$BATON_ATTEMPT" >> {log}
      if [ "$BATON_ATTEMPT" = 1 ]; then sleep 60; fi
      echo "end-$BATON_ATTEMPT" >> {log}
  - id: after
    command: echo after >> {log}
""",
    )
    execution_id = harness.start("slow")
    messages = harness.receive(visibility=4)

    with doomed_worker(harness, tmp_path, messages) as worker:
        wait_for(lambda: log.exists() and "start-1" in log.read_text())
        worker.kill()  # SIGKILL: no cleanup, no lease renewal, the message stays in flight

    final = harness.drain(execution_id)

    assert final.status == "succeeded", final.error
    assert log.read_text().split() == ["start-1", "start-2", "end-2", "after"]
    steps = harness.document(execution_id)["steps"]
    assert (steps["slow"]["attempts"], steps["after"]["attempts"]) == (2, 1)
    assert harness.invocations[-1].response == {"batchItemFailures": []}


RACED_CHAIN = """
name: raced
steps:
  - id: a
    command: echo a >> "$TEST_DIR/ran.log"
  - id: b
    command: echo b-start >> "$TEST_DIR/ran.log"; sleep 1; echo b-end >> "$TEST_DIR/ran.log"
"""


def test_a_chain_commit_that_loses_a_race_stops_the_process_it_started(
    harness: AwsHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker starts b's process before committing a's end (which carries b's claim).
    # Meanwhile another worker ended a, claimed b and died: the commit loses, the process
    # it started must stop, and b runs once more under a takeover, not twice side by side.
    harness.upload("raced.yaml", RACED_CHAIN)
    other = harness.backend.store
    commit = DynamoDBStateStore.commit
    raced: list[StepRecord] = []

    def racing(self: DynamoDBStateStore, updates: Any, inserts: Any = (), execution: Any = None) -> Any:
        if self is not other and not raced and any(record.hand_off for record in updates):
            execution_id = updates[0].execution_id
            theirs = other.get_steps(execution_id)
            raced.append(theirs["a"].evolve(status=SUCCEEDED, lease_owner=None, lease_expires_at=None))
            raced.append(theirs["b"].evolve(status=RUNNING, lease_owner="lambda:elsewhere:x", attempt=1, tries=1,
                                            lease_expires_at=datetime.now(UTC) - timedelta(seconds=1)))  # fmt: skip
            other.commit(raced)
        return commit(self, updates, inserts, execution)

    monkeypatch.setattr(DynamoDBStateStore, "commit", racing)
    execution_id = harness.start("raced")
    final = harness.drain(execution_id)

    assert raced, "the race was never run"
    assert final.status == "succeeded", final.error
    steps = other.get_steps(execution_id)
    assert steps["b"].status == SUCCEEDED
    assert steps["b"].attempt == 2, "the stopped start left no attempt"
    ran = (tmp_path / "ran.log").read_text().split()
    assert ran.count("a") == 1
    assert ran.count("b-end") == 1, "the process started on the lost claim went on beside the takeover"


def test_a_chain_step_starts_as_soon_as_the_one_before_has_exited(
    harness: AwsHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.upload(
        "quick.yaml", "name: quick\nsteps:\n" + "".join(f"  - {{id: s{i}, command: 'true'}}\n" for i in range(3))
    )
    events = step_events(monkeypatch)

    final = harness.drain(harness.start("quick"))

    assert final.status == "succeeded", final.error
    assert events == ["start s0", "start s1", "end s0", "start s2", "end s1", "end s2"]


def test_a_chain_step_started_for_a_step_that_then_fails_is_stopped(
    harness: AwsHarness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.upload(
        "early.yaml",
        "name: early\nsteps:\n  - {id: a, command: 'true'}\n"
        '  - id: b\n    command: echo $$ > "$TEST_DIR/b.pid"; sleep 30; echo b-end >> "$TEST_DIR/ran.log"\n',
    )
    events = step_events(monkeypatch)
    first_outputs_fail(monkeypatch, "the artifact bucket is out of reach")  # a's process exits with 0, then this fails
    final = harness.drain(harness.start("early"), timeout=20)

    assert events[:2] == ["start a", "start b"], "b was started as a exited"
    assert final.status == "failed"
    steps = harness.backend.store.get_steps(final.execution_id)
    assert "out of reach" in (steps["a"].error or "")
    assert steps["b"].attempt == 0, "nothing of b's start was recorded"
    pid = tmp_path / "b.pid"
    assert not pid.exists() or not alive(int(pid.read_text() or 0)), "b's process was stopped"
    assert not (tmp_path / "ran.log").exists()
