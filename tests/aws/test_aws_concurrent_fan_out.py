"""A ``for_each`` whose items run on truly concurrent workers always joins.

Several worker sandboxes (threads, each with its own backend and workspace, over the moto
server) take messages from the real step queue at random moments, as Lambda's pollers do.
Whatever the interleaving, the execution reaches ``succeeded``, every item runs exactly
once, and the step after the join runs once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.aws.harness import AwsHarness

WORKFLOW = """
name: fan
inputs:
  width: {type: integer}
steps:
  - id: each
    for_each: "range(inputs.width) | list"
    command: |
      sleep "0.0$(( (BATON_ITEM_INDEX * 7) % 10 ))"
      echo "$BATON_ITEM_INDEX" >> "$TEST_DIR/items.log"
  - id: join
    needs: [each]
    command: echo joined >> "$TEST_DIR/join.log"
"""

# (width, workers, seed): 20 trials of 3-8 workers, widths from 3 to 200.
TRIALS = [
    (3, 3, 1), (3, 8, 2), (4, 4, 3), (5, 3, 4), (5, 6, 5), (6, 8, 6), (7, 5, 7), (8, 3, 8),
    (8, 8, 9), (10, 4, 10), (12, 7, 11), (15, 5, 12), (16, 8, 13), (20, 3, 14), (24, 6, 15),
    (30, 8, 16), (40, 5, 17), (50, 8, 18), (64, 4, 19), (200, 8, 20),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(("width", "workers", "seed"), TRIALS, ids=[f"w{w}-x{n}" for w, n, _ in TRIALS])
def test_every_item_runs_once_and_the_join_always_happens(
    harness: AwsHarness, tmp_path: Path, width: int, workers: int, seed: int
) -> None:
    harness.upload("fan.yaml", WORKFLOW)
    execution_id = harness.start("fan", {"width": width})

    final = harness.run_concurrently(execution_id, workers=workers, seed=seed, timeout=30.0 + width)

    assert final.status == "succeeded", final.error
    ran = sorted(int(line) for line in (tmp_path / "items.log").read_text().split())
    assert ran == list(range(width)), "an item ran twice or never"
    assert (tmp_path / "join.log").read_text().split() == ["joined"]
    document = harness.document(execution_id)
    assert [item["status"] for item in document["steps"]["each"]["items"]] == ["succeeded"] * width
