"""The cost model's acceptance: AWS calls of a 50-step chain, counted by botocore hooks."""

from __future__ import annotations

from tests.aws.harness import AwsHarness

STEPS = 50


def chain(steps: int) -> str:
    body = "\n".join(f"  - id: s{i}\n    command: echo {i}" for i in range(steps))
    return f"name: chain\nsteps:\n{body}\n"


def test_a_50_step_chain_costs_about_one_dynamodb_write_per_step_and_1_sqs_send_per_invocation(
    harness: AwsHarness,
) -> None:
    harness.upload("chain.yaml", chain(STEPS))
    before = harness.meter.snapshot()

    execution_id = harness.start("chain")
    final = harness.drain(execution_id)

    assert final.status == "succeeded", final.error
    usage = harness.meter.snapshot().minus(before)
    # Each step's claim rides on the write that ended the step before; the start lists the
    # steps in one item instead of writing one each.
    assert usage.dynamodb_writes <= 1.15 * STEPS, usage.by_operation()
    assert harness.invocations, "the worker never ran"
    assert all(inv.usage.sqs_sends <= 1 for inv in harness.invocations), [
        i.usage.sqs_sends for i in harness.invocations
    ]
    assert len(harness.invocations) == 1, "a linear chain should continue inline in one invocation"
    steps = harness.document(execution_id)["steps"]
    assert all(steps[f"s{i}"]["status"] == "succeeded" for i in range(STEPS))


def test_a_50_step_chain_stores_no_log_and_publishes_no_step_event(harness: AwsHarness) -> None:
    harness.upload("chain.yaml", chain(STEPS))
    before = harness.meter.snapshot()

    execution_id = harness.start("chain")
    harness.drain(execution_id)

    usage = harness.meter.snapshot().minus(before)
    assert usage.calls[("s3", "PutObject")] == 0, "short logs live in the step records"
    assert usage.events <= 2, "only the execution's start and end are published (step events are opt-in)"
    assert usage.write_units <= 1.25 * STEPS, usage.by_operation()


def fan_out(width: int) -> str:
    return (
        f"name: fan{width}\nsteps:\n  - id: fan\n    for_each: {list(range(width))}\n    command: echo {{{{ item }}}}\n"
    )


def read_units_per_item(harness: AwsHarness, width: int) -> float:
    harness.upload(f"fan{width}.yaml", fan_out(width))
    before = harness.meter.snapshot()
    final = harness.drain(harness.start(f"fan{width}"), timeout=120)
    assert final.status == "succeeded", final.error
    return harness.meter.snapshot().minus(before).read_units / width


def test_what_a_fan_out_reads_per_item_does_not_grow_with_its_width(harness: AwsHarness) -> None:
    # Each item is run from the records it needs (not its siblings'), and the join is a
    # counter on the parent: only the last item's worker reads the whole execution.
    narrow, wide = read_units_per_item(harness, 8), read_units_per_item(harness, 40)

    assert wide <= narrow, (narrow, wide)
    assert wide < 5, wide
