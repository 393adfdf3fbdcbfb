"""One workflow suite, two homes: every example and the run-semantics cases run locally
(``baton run``) and through the Lambda handlers over moto with several workers at once, and
the same assertions hold on both.

What may differ between the homes is stated here, not hidden: on AWS a ``{env: NAME}``
secret is refused by design (secrets come from SSM or Secrets Manager there).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from baton_cli import WORKFLOWS, Workspace
from homes import AwsHome, Home, LocalHome
from tests.aws.harness import AwsHarness
from tests.aws.moto_stack import MotoServer, create_stack, moto_server

LOCAL_ONLY = {"secrets": "an {env: NAME} secret is refused on AWS by design (tested in tests/aws)"}
NEEDS_THE_CLOUD = {
    "coverage-with-pr": "runs an agent on Bedrock and calls the GitHub API",
}


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture(params=["local", "aws"])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Home:
    env = {"TEST_DIR": str(tmp_path), "DEMO_TOKEN": "s3cr3t-value"}
    if request.param == "local":
        return LocalHome(Workspace(tmp_path, env=env))
    server: MotoServer = request.getfixturevalue("moto")
    clients = server.clients()
    settings = create_stack(clients)
    return AwsHome(AwsHarness(server, settings, tmp_path, env=env))


def statuses(record: dict[str, Any]) -> dict[str, str]:
    return {step: info["status"] for step, info in record["steps"].items()}


# example -> (execution status, step statuses that must hold)
EXAMPLES: dict[str, tuple[str, dict[str, str]]] = {
    "hello": ("succeeded", {"greet": "succeeded", "check": "succeeded"}),
    "dag": ("succeeded", {}),
    "fan-out": ("succeeded", {"measure": "succeeded", "total": "succeeded"}),
    "conditions": ("succeeded", {}),
    "caching": ("succeeded", {"build": "succeeded", "use": "succeeded"}),
    "retries-and-timeouts": ("succeeded", {"flaky": "succeeded", "slow": "failed", "report": "succeeded"}),
    "wait": ("succeeded", {"pause": "succeeded", "after": "succeeded"}),
    "approval": ("waiting", {"build": "succeeded", "release": "waiting", "publish": "pending"}),
    "saga": (
        "failed",
        {
            "reserve": "compensated",
            "charge": "compensated",
            "ship": "failed",
            "alert": "succeeded",
            "close": "succeeded",
        },
    ),
    "secrets": ("succeeded", {"use": "succeeded"}),
    "sub-workflows": ("succeeded", {"greet": "succeeded", "all_greeted": "succeeded"}),
    "greet-one": ("succeeded", {"say": "succeeded"}),
}


def test_every_example_is_in_the_shared_suite() -> None:
    names = {path.stem for path in WORKFLOWS.glob("*.yaml")}
    assert names - set(EXAMPLES) - set(NEEDS_THE_CLOUD) == set()


@pytest.mark.parametrize("name", sorted(EXAMPLES), ids=sorted(EXAMPLES))
def test_the_example_ends_as_its_header_says(home: Home, name: str) -> None:
    if home.name == "aws" and name in LOCAL_ONLY:
        pytest.skip(LOCAL_ONLY[name])
    status, steps = EXAMPLES[name]

    record = home.run(WORKFLOWS / f"{name}.yaml")

    assert record["status"] == status, record.get("error")
    assert {step: statuses(record)[step] for step in steps} == steps
    assert "s3cr3t-value" not in repr(record)


def test_fan_out_outputs_come_back_in_item_order(home: Home) -> None:
    record = home.run(WORKFLOWS / "fan-out.yaml")

    assert record["outputs"]["sizes"] == "1,2,3,4,5"
    assert [item["status"] for item in record["steps"]["measure"]["items"]] == ["succeeded"] * 5


def test_an_approved_gate_lets_the_release_through(home: Home) -> None:
    waiting = home.run(WORKFLOWS / "approval.yaml")

    record = home.approve(waiting["execution_id"], "release")

    assert record["status"] == "succeeded"
    assert record["steps"]["publish"]["outputs"]["stdout"].startswith("published, approved by")


SEMANTICS = """
name: semantics
inputs:
  names: {type: array, default: [ann, bob, cy]}
steps:
  - id: each
    for_each: inputs.names
    max_concurrency: 2
    command: echo "hi={{ item }}" >> "$BATON_OUTPUT"
  - id: skipped
    when: "{{ inputs.names | length > 5 }}"
    command: echo never
  - id: flaky
    retry: {max_attempts: 3, backoff: {initial: 100ms, max: 200ms}, on: [error]}
    command: '[ "$BATON_ATTEMPT" -ge 2 ]'
  - id: join
    needs: [each, skipped, flaky]
    command: echo "{{ steps.each.outputs | map(attribute='hi') | join('+') }}"
"""


def test_for_each_when_retry_and_join_behave_the_same(home: Home, tmp_path: Path) -> None:
    path = tmp_path / "semantics.yaml"
    path.write_text(SEMANTICS)

    record = home.run(path)

    assert record["status"] == "succeeded", record.get("error")
    assert statuses(record) == {"each": "succeeded", "skipped": "skipped", "flaky": "succeeded",
                                "join": "succeeded"}  # fmt: skip
    assert record["steps"]["flaky"]["attempts"] == 2
    assert record["steps"]["join"]["outputs"]["stdout"] == "ann+bob+cy"


def test_inputs_reach_the_steps(home: Home, tmp_path: Path) -> None:
    path = tmp_path / "semantics.yaml"
    path.write_text(SEMANTICS)

    record = home.run(path, {"names": ["x", "y"]})

    assert record["steps"]["join"]["outputs"]["stdout"] == "x+y"


# Each step first looks for the $BATON_OUTPUT files of the steps before it, then names its own.
LEFT_BEHIND = """
      while read -r p; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p" >> "$TEST_DIR/left"; fi; done \\
        < "$TEST_DIR/output-paths"
"""
OUTPUT_FILES = f"""
name: output-files
steps:
  - id: writes
    command: |
      echo "$BATON_OUTPUT" >> "$TEST_DIR/output-paths"
      echo "value=1" >> "$BATON_OUTPUT"
  - id: links
    needs: [writes]
    command: |{LEFT_BEHIND}
      echo "$BATON_OUTPUT" >> "$TEST_DIR/output-paths"
      ln -s "$TEST_DIR/nowhere" "$BATON_OUTPUT"
  - id: quiet
    needs: [links]
    command: |{LEFT_BEHIND}
      echo "$BATON_OUTPUT" >> "$TEST_DIR/output-paths"
  - id: fails
    needs: [quiet]
    command: |{LEFT_BEHIND}
      echo "$BATON_OUTPUT" >> "$TEST_DIR/output-paths"
      echo "value=2" >> "$BATON_OUTPUT"
      exit 3
finally:
  - id: check
    command: |{LEFT_BEHIND}
"""


def test_no_output_file_outlives_its_step(home: Home, tmp_path: Path) -> None:
    path = tmp_path / "output-files.yaml"
    path.write_text(OUTPUT_FILES)

    record = home.run(path)

    assert statuses(record) == {"writes": "succeeded", "links": "succeeded", "quiet": "succeeded",
                                "fails": "failed", "check": "succeeded"}  # fmt: skip
    assert record["steps"]["writes"]["outputs"]["value"] == "1"
    assert record["steps"]["fails"]["outputs"]["value"] == "2"
    assert len((tmp_path / "output-paths").read_text().split()) == 4
    assert not (tmp_path / "left").exists(), "a step's $BATON_OUTPUT file was left for the steps after it"


LONG_STEP = """
name: long-step
steps:
  - id: first
    command: "true"
  - id: long
    command: |
      echo started >> "$TEST_DIR/long.log"
      sleep 60
  - id: after
    command: "true"
finally:
  - id: tidy
    command: echo tidy >> "$TEST_DIR/long.log"
"""


def test_a_cancel_stops_a_chain_step_running_on_the_driver_thread(home: Home, tmp_path: Path) -> None:
    # The long step is all its execution does while it runs, so the driver waits for it on
    # its own thread: the cancel must still reach it there, on both homes.
    path = tmp_path / "long-step.yaml"
    path.write_text(LONG_STEP)

    def running(home: Home, record: dict[str, Any]) -> bool:
        return record["steps"]["long"]["status"] == "running" and (tmp_path / "long.log").exists()

    started = time.monotonic()
    record = home.cancel_when(path, running)

    assert time.monotonic() - started < 45, "the step ran on instead of being stopped"
    assert (record["status"], statuses(record)) == (
        "cancelled", {"first": "succeeded", "long": "cancelled", "after": "cancelled", "tidy": "succeeded"},
    )  # fmt: skip
    assert (tmp_path / "long.log").read_text().split() == ["started", "tidy"]
