"""Recovery in lease time: a message is hidden one lease at a time while its work runs, and
comes back within seconds after a failure, not after the queue's visibility timeout."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.aws.harness import AwsHarness

from baton.adapters.aws.items import definition_key


def test_a_message_stays_hidden_while_its_step_runs_past_the_visibility_it_was_received_with(
    harness: AwsHarness, tmp_path: Path
) -> None:
    harness.upload("slow.yaml", "name: slow\nsteps:\n  - id: slow\n    command: sleep 4\n")
    execution_id = harness.start("slow")
    messages = harness.receive(visibility=2)
    worker = threading.Thread(target=harness.deliver, args=(messages,))
    worker.start()

    time.sleep(3)  # past the 2 s it was received with
    seen_again = harness.receive(wait_seconds=0)
    worker.join(30)

    assert seen_again == [], "the message came back while its step was still running"
    assert harness.execution(execution_id).status == "succeeded"
    assert harness.invocations[0].usage.calls[("sqs", "ChangeMessageVisibility")] >= 1


def test_a_message_whose_handling_failed_comes_back_in_seconds(harness: AwsHarness) -> None:
    harness.upload("ok.yaml", "name: ok\nsteps:\n  - id: a\n    command: 'true'\n")
    execution_id = harness.start("ok")
    messages = harness.receive(visibility=600)
    # The definition vanishes from the table: the handler fails on this message.
    table = harness.settings.definitions_table
    execution = harness.execution(execution_id)
    item = harness.plumbing("dynamodb").get_item(TableName=table, Key=definition_key(execution.definition_digest))[
        "Item"
    ]
    harness.plumbing("dynamodb").delete_item(TableName=table, Key=definition_key(execution.definition_digest))

    response = harness.deliver(messages)
    assert response["batchItemFailures"], response
    started = time.monotonic()
    again = harness.receive(wait_seconds=5)
    waited = time.monotonic() - started

    assert again
    assert again[0]["Body"] == messages[0]["Body"]
    assert waited < 5, "it came back after the 2 s backoff, not the 600 s it was received with"
    harness.plumbing("dynamodb").put_item(TableName=table, Item=item)
    harness.deliver(again)
    assert harness.execution(execution_id).status == "succeeded"
