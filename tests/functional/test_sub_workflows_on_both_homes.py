"""``type: workflow`` on both homes: a step runs a child execution (locally in the same
process, on AWS as an execution of its own started through the workers), takes its outputs,
fans out over ``for_each``, and passes failure, cancellation and resume both ways.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from baton_cli import Workspace
from homes import AwsHome, Home, LocalHome
from tests.aws.harness import AwsHarness
from tests.aws.moto_stack import MotoServer, create_stack, moto_server

GREET = """
name: greet
version: "{version}"
inputs:
  who: {{type: string, required: true}}
steps:
  - id: say
    command: echo "text={greeting} $WHO" >> "$BATON_OUTPUT"
    env: {{WHO: "{{{{ inputs.who }}}}"}}
outputs:
  greeting: {{value: "{{{{ steps.say.outputs.text }}}}"}}
"""

FAN_OUT = """
name: fan-out-children
inputs:
  names: {type: array, default: [ann, bob, cy]}
steps:
  - id: each
    for_each: inputs.names
    workflow: greet
    inputs: {who: "{{ item }}"}
  - id: join
    command: echo "{{ steps.each.outputs | map(attribute='greeting') | join(',') }}"
outputs:
  all: {value: "{{ steps.join.outputs.stdout }}"}
"""

CHECKED = """
name: checked
inputs:
  who: {type: string, required: true}
steps:
  - id: check
    command: test -f "$TEST_DIR/ok-$WHO"
    env: {WHO: "{{ inputs.who }}"}
  - id: done
    command: echo "$WHO" >> "$TEST_DIR/done"
    env: {WHO: "{{ inputs.who }}"}
"""

CHECK_ALL = """
name: check-all
steps:
  - id: each
    for_each: [a, b, c]
    max_concurrency: 1
    workflow: checked
    inputs: {who: "{{ item }}"}
"""

SLOW = """
name: slow
steps:
  - id: nap
    command: sleep 20
"""

SLOW_FAN_OUT = """
name: slow-fan-out
steps:
  - id: each
    for_each: [1, 2, 3]
    workflow: slow
"""


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with moto_server() as server:
        yield server


@pytest.fixture(params=["local", "aws"])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Home:
    env = {"TEST_DIR": str(tmp_path)}
    if request.param == "local":
        return LocalHome(Workspace(tmp_path, env=env))
    server: MotoServer = request.getfixturevalue("moto")
    settings = create_stack(server.clients())
    return AwsHome(AwsHarness(server, settings, tmp_path, env=env))


def write(home: Home, folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(text)
    home.publish(path)
    return path


def children(record: dict[str, Any], step: str) -> list[dict[str, Any]]:
    return [item["child"] for item in record["steps"][step]["items"]]


def test_a_for_each_over_a_workflow_runs_one_child_per_item(home: Home, tmp_path: Path) -> None:
    write(home, tmp_path, "greet", GREET.format(version="1.0", greeting="hello"))
    parent = tmp_path / "fan-out-children.yaml"
    parent.write_text(FAN_OUT)

    record = home.run(parent)

    assert record["status"] == "succeeded", record["error"]
    assert record["outputs"]["all"] == "hello ann,hello bob,hello cy"
    kids = children(record, "each")
    assert [kid["status"] for kid in kids] == ["succeeded"] * 3
    assert len({kid["execution_id"] for kid in kids}) == 3
    child = home.document(kids[1]["execution_id"])
    assert child["workflow"] == "greet"
    assert child["inputs"] == {"who": "bob"}
    assert child["parent"]["execution_id"] == record["execution_id"]


def test_a_failed_child_fails_its_step_and_is_resumed_through_the_parent(home: Home, tmp_path: Path) -> None:
    write(home, tmp_path, "checked", CHECKED)
    parent = tmp_path / "check-all.yaml"
    parent.write_text(CHECK_ALL)
    (tmp_path / "ok-a").touch()
    (tmp_path / "ok-c").touch()

    failed = home.run(parent)

    assert failed["status"] == "failed"
    items = failed["steps"]["each"]["items"]
    assert [item["status"] for item in items] == ["succeeded", "failed", "skipped"]
    broken = items[1]["child"]
    assert broken["status"] == "failed"
    assert broken["execution_id"] in items[1]["error"]

    (tmp_path / "ok-b").touch()
    resumed = home.resume(failed["execution_id"])

    assert resumed["status"] == "succeeded", resumed["error"]
    again = resumed["steps"]["each"]["items"][1]["child"]
    assert again["execution_id"] == broken["execution_id"], "the same child was resumed, not a new one started"
    assert sorted((tmp_path / "done").read_text().split()) == ["a", "b", "c"], "each child's steps ran once"


def test_cancelling_the_parent_cancels_its_children(home: Home, tmp_path: Path) -> None:
    write(home, tmp_path, "slow", SLOW)
    parent = tmp_path / "slow-fan-out.yaml"
    parent.write_text(SLOW_FAN_OUT)

    def children_running(home: Home, record: dict[str, Any]) -> bool:
        items = record["steps"]["each"]["items"] or []
        kids = [item.get("child") for item in items]
        if len(kids) != 3 or not all(kids):
            return False
        return all(home.document(kid["execution_id"])["steps"]["nap"]["status"] == "running" for kid in kids)

    if isinstance(home, AwsHome):
        home.workers = 5  # the children's steps hold three workers; others take the cancel
    record = home.cancel_when(parent, children_running)

    assert record["status"] == "cancelled"
    kids = children(record, "each")
    assert [home.document(kid["execution_id"])["status"] for kid in kids] == ["cancelled"] * 3


def test_a_pinned_version_runs_after_a_newer_one_was_pushed(home: Home, tmp_path: Path) -> None:
    greet = write(home, tmp_path, "greet", GREET.format(version="1.0", greeting="hello"))
    if home.name == "local":
        home.run(greet, {"who": "first"})  # a definition run here is kept by digest
    write(home, tmp_path, "greet", GREET.format(version="2.0", greeting="howdy"))
    parent = tmp_path / "pinned.yaml"
    parent.write_text(FAN_OUT.replace("workflow: greet", "workflow: greet@1.0").replace("fan-out-children", "pinned"))

    record = home.run(parent, {"names": ["ann"]})

    assert record["status"] == "succeeded", record["error"]
    assert record["outputs"]["all"] == "hello ann"
    child = home.document(children(record, "each")[0]["execution_id"])
    assert child["version"] == "1.0"
    unpinned = tmp_path / "unpinned.yaml"
    unpinned.write_text(FAN_OUT.replace("fan-out-children", "unpinned"))
    assert home.run(unpinned, {"names": ["ann"]})["outputs"]["all"] == "howdy ann"


def test_inputs_are_checked_against_the_child_before_it_starts(home: Home, tmp_path: Path) -> None:
    write(home, tmp_path, "greet", GREET.format(version="1.0", greeting="hello"))
    parent = tmp_path / "wrong-inputs.yaml"
    parent.write_text("name: wrong-inputs\nsteps:\n  - id: call\n    workflow: greet\n    inputs: {whom: x}\n")

    record = home.run(parent)

    assert record["status"] == "failed"
    step = record["steps"]["call"]
    assert "whom" in step["error"]
    assert "child" not in step, "no child was started"


GATED = """
name: gated
steps:
  - id: gate
    type: approval
  - id: after
    command: echo "text=passed" >> "$BATON_OUTPUT"
outputs:
  text: {value: "{{ steps.after.outputs.text }}"}
"""


def test_a_child_waiting_for_an_answer_makes_its_parent_wait(home: Home, tmp_path: Path) -> None:
    write(home, tmp_path, "gated", GATED)
    parent = tmp_path / "calls-gated.yaml"
    parent.write_text("name: calls-gated\nsteps:\n  - id: call\n    workflow: gated\n"
                      "  - id: last\n    command: echo \"{{ steps.call.outputs.text }}\"\n")  # fmt: skip

    waiting = home.run(parent)

    assert waiting["status"] == "waiting"
    child = waiting["steps"]["call"]["child"]
    assert child["status"] == "waiting"
    home.approve(child["execution_id"], "gate")
    record = home.document(waiting["execution_id"])
    assert record["status"] == "succeeded", record["error"]
    assert record["steps"]["last"]["outputs"]["stdout"] == "passed"


def test_a_workflow_that_calls_itself_stops_at_the_depth_limit(home: Home, tmp_path: Path) -> None:
    if home.name == "local":
        pytest.skip("locally a workflow that calls itself is refused when it loads (test_sub_workflow_commands)")
    write(home, tmp_path, "pong", "name: pong\nsteps:\n  - id: back\n    workflow: ping\n")
    path = write(home, tmp_path, "ping", "name: ping\nsteps:\n  - id: again\n    workflow: pong\n")

    record = home.run(path)

    assert record["status"] == "failed"
    assert "nest more than 10 deep" in record["error"]
