"""End to end on moto over HTTP: upload, register, start by event, drain the real queue."""

from __future__ import annotations

from pathlib import Path

from tests.aws.harness import AwsHarness

SEQUENCE = """
name: sequence
inputs:
  who: {type: string, default: world}
outputs:
  greeting: {value: "{{ steps.greet.outputs.greeting }}"}
steps:
  - id: greet
    command: echo "greeting=hello {{ inputs.who }}" >> "$BATON_OUTPUT"
  - id: shout
    command: echo "{{ steps.greet.outputs.greeting }}" | tr a-z A-Z
  - id: check
    type: assert
    condition: "steps.shout.outputs.stdout == 'HELLO ALICE'"
"""


def test_a_sequence_runs_in_one_worker_invocation(harness: AwsHarness, tmp_path: Path) -> None:
    registered = harness.upload("sequence.yaml", SEQUENCE)
    assert registered["status"] == "registered"

    execution_id = harness.start("sequence", {"who": "alice"})
    final = harness.drain(execution_id)

    assert final.status == "succeeded", final.error
    assert final.outputs == {"greeting": "hello alice"}
    document = harness.document(execution_id)
    assert [document["steps"][s]["status"] for s in ("greet", "shout", "check")] == ["succeeded"] * 3
    assert len(harness.invocations) == 1
