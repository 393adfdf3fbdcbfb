"""``baton validate``, ``run``, ``status`` and ``versions`` with ``workflow:`` steps, locally."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from baton_cli import Workspace

GREET = """name: greet
version: "{version}"
inputs:
  who: {{type: string, default: you}}
steps:
  - id: say
    command: echo "text={greeting} $WHO" >> "$BATON_OUTPUT"
    env: {{WHO: "{{{{ inputs.who }}}}"}}
outputs:
  greeting: {{value: "{{{{ steps.say.outputs.text }}}}"}}
"""
CALLER = "name: caller\nsteps:\n  - id: call\n    workflow: greet\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


def test_a_workflow_that_calls_itself_is_refused_with_its_location(workspace: Workspace) -> None:
    workspace.write(
        "ping.yaml", "name: ping\nsteps:\n  - id: hello\n    command: echo hi\n  - id: on\n    workflow: pong\n"
    )
    workspace.write("pong.yaml", "name: pong\nsteps:\n  - id: back\n    workflow: ping.yaml\n")

    result = workspace.baton("validate", "ping.yaml")
    ran = workspace.baton("run", "ping.yaml")

    assert result.returncode == 2
    assert "ping.yaml:6:15: steps[1].workflow:" in result.stderr
    assert "calls itself (ping.yaml -> pong.yaml -> ping.yaml)" in result.stderr
    assert ran.returncode == 2
    assert "calls itself" in ran.stderr
    assert "Traceback" not in ran.stderr


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("missing", "steps[0].workflow: no workflow 'missing': looked for"),
        ("Not A Name", "steps[0].workflow: 'Not A Name' is not a workflow name"),
        ("greet@sha256:abc", "a digest is written sha256: and at least 12"),
        ("caller", "steps[0].workflow: workflow 'caller' calls itself"),
    ],
    ids=["unknown-name", "bad-name", "short-digest", "itself"],
)
def test_a_bad_workflow_name_is_a_located_error(workspace: Workspace, reference: str, message: str) -> None:
    workspace.write("caller.yaml", CALLER.replace("greet", f'"{reference}"'))

    result = workspace.baton("validate", "caller.yaml")

    assert result.returncode == 2
    assert "caller.yaml:4:15:" in result.stderr
    assert message in result.stderr


def test_a_name_is_found_on_the_workflows_path(workspace: Workspace, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "greet.yaml").write_text(GREET.format(version="1.0", greeting="hello"))
    workspace.write("caller.yaml", CALLER)
    workspace.env["BATON_WORKFLOWS_PATH"] = str(shared)

    record = workspace.run_json("run", "caller.yaml")

    assert record["steps"]["call"]["outputs"] == {"greeting": "hello you"}


def test_status_shows_the_child_under_its_step_and_latest_is_the_parent(workspace: Workspace) -> None:
    workspace.write("greet.yaml", GREET.format(version="1.0", greeting="hello"))
    workspace.write("caller.yaml", CALLER)
    record = workspace.run_json("run", "caller.yaml")
    child = record["steps"]["call"]["child"]

    text = workspace.baton("status", "latest").stdout

    assert record["execution_id"] in text.splitlines()[0]
    assert f"└ child {child['execution_id']}  greet succeeded" in text
    child_record = workspace.run_json("status", child["execution_id"])
    assert child_record["parent"]["execution_id"] == record["execution_id"]
    assert child_record["parent"]["unit"] == "call"


def test_versions_lists_what_ran_and_a_digest_pins_one(workspace: Workspace) -> None:
    workspace.write("greet.yaml", GREET.format(version="1.0", greeting="hello"))
    first = workspace.run_json("run", "greet.yaml")
    workspace.write("greet.yaml", GREET.format(version="2.0", greeting="howdy"))
    second = workspace.run_json("run", "greet.yaml")

    listed = json.loads(workspace.baton("versions", "greet", "--json").stdout)
    text = workspace.baton("versions", "greet").stdout
    pinned = workspace.run_json("run", f"greet@sha256:{first['definition_digest'][:12]}")
    by_label = workspace.run_json("run", "greet@1.0")
    current = workspace.run_json("run", "greet")

    assert [(v["version"], v["digest"], v["current"]) for v in listed] == [
        ("1.0", first["definition_digest"], False),
        ("2.0", second["definition_digest"], True),
    ]
    assert "2.0 *" in text
    assert pinned["outputs"]["greeting"] == by_label["outputs"]["greeting"] == "hello you"
    assert (pinned["definition_digest"], pinned["version"]) == (first["definition_digest"], "1.0")
    assert current["outputs"]["greeting"] == "howdy you"


def test_an_unknown_pin_says_where_to_look(workspace: Workspace) -> None:
    workspace.write("greet.yaml", GREET.format(version="1.0", greeting="hello"))

    result = workspace.baton("run", "greet@9.9")

    assert result.returncode == 2
    assert "no definition greet@9.9 has run here; see: baton versions greet" in result.stderr


REPORT = """name: report
steps:
  - id: measure
    command: |
      echo ran >> runs.log
      date +%s%N > report.txt
      echo "lines=$(wc -l < runs.log)" >> "$BATON_OUTPUT"
    outputs: {report: report.txt}
outputs:
  report: {type: artifact, from: measure.report}
  lines: {value: "{{ steps.measure.outputs.lines }}"{suffix}}
"""
MEASURED = """name: measured
steps:
  - id: measure
    workflow: report
    cache_key: the-report
  - id: read
    use_cache: true
    command: echo "text=$(cat report.txt)" >> "$BATON_OUTPUT"
"""


def test_a_cached_workflow_step_restores_the_childs_outputs_and_files(workspace: Workspace) -> None:
    workspace.write("report.yaml", REPORT.replace("{suffix}", ""))
    workspace.write("measured.yaml", MEASURED)
    first = workspace.run_json("run", "measured.yaml")
    report = (workspace.path / "report.txt").read_text()
    (workspace.path / "report.txt").unlink()

    second = workspace.run_json("run", "measured.yaml")
    restored = (workspace.path / "report.txt").read_text()
    workspace.write("report.yaml", REPORT.replace("{suffix}", ", type: integer"))  # another definition
    third = workspace.run_json("run", "measured.yaml")

    step = second["steps"]["measure"]
    assert (step["status"], step["cache_hit"]) == ("cached", True)
    assert step["outputs"] == first["steps"]["measure"]["outputs"]
    assert restored == report, "the child's declared file is restored"
    assert (workspace.path / "report.txt").read_text() != report  # the third run measured again
    # the step after it sees the same file, so it is a hit too
    assert (second["steps"]["read"]["status"], second["steps"]["read"]["outputs"]) == (
        "cached",
        first["steps"]["read"]["outputs"],
    )
    assert third["steps"]["measure"]["cache_hit"] is False
    assert (workspace.path / "runs.log").read_text().count("ran") == 2


def test_a_step_timeout_cancels_a_child_that_runs_longer(workspace: Workspace) -> None:
    workspace.write("slow.yaml", "name: slow\nsteps:\n  - id: nap\n    command: sleep 30\n")
    workspace.write("impatient.yaml", "name: impatient\nsteps:\n  - id: call\n    workflow: slow\n    timeout: 1s\n")

    record = workspace.run_json("run", "impatient.yaml", expect=1)

    step = record["steps"]["call"]
    assert step["status"] == "failed"
    assert "did not end before the step timed out" in step["error"]
    assert workspace.run_json("status", step["child"]["execution_id"], expect=0)["status"] == "cancelled"


def test_an_interrupted_parent_stops_its_children_and_resume_resumes_them(workspace: Workspace) -> None:
    workspace.write("nap.yaml", "name: nap\nsteps:\n  - id: nap\n    command: test -f go || sleep 30\n")
    workspace.write("naps.yaml", "name: naps\nsteps:\n  - id: each\n    for_each: [1, 2]\n    workflow: nap\n")
    process = workspace.start("run", "naps.yaml")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_running_children(workspace)) < 2:
        time.sleep(0.2)
    kids = _running_children(workspace)

    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)

    assert process.returncode == 143
    assert [workspace.run_json("status", kid)["status"] for kid in kids] == ["failed", "failed"]
    (workspace.path / "go").touch()
    record = workspace.run_json("resume", "latest")
    assert record["status"] == "succeeded", record["error"]
    assert [item["child"]["execution_id"] for item in record["steps"]["each"]["items"]] == kids


def _running_children(workspace: Workspace) -> list[str]:
    result = workspace.baton("status", "latest", "--json")
    if result.returncode != 0:
        return []
    items = json.loads(result.stdout)["steps"]["each"]["items"] or []
    kids = [item["child"]["execution_id"] for item in items if "child" in item]
    running = [kid for kid in kids if workspace.run_json("status", kid)["steps"]["nap"]["status"] == "running"]
    return kids if len(running) == len(kids) else []


FLAKY = """name: flaky
steps:
  - id: try
    command: test -f ok && echo "v=1" >> "$BATON_OUTPUT"
outputs:
  v: {value: "{{ steps.try.outputs.v }}"}
"""


def test_a_child_resumed_by_itself_hands_its_outputs_to_its_resumed_parent(workspace: Workspace) -> None:
    workspace.write("flaky.yaml", FLAKY)
    workspace.write("calls-flaky.yaml", "name: calls-flaky\nsteps:\n  - id: call\n    workflow: flaky\n")
    failed = workspace.run_json("run", "calls-flaky.yaml", expect=1)
    child = failed["steps"]["call"]["child"]["execution_id"]
    (workspace.path / "ok").touch()

    resumed_child = workspace.baton("resume", child)
    parent = workspace.run_json("resume", failed["execution_id"])

    assert resumed_child.returncode == 0
    assert f"its parent {failed['execution_id']} stopped" in resumed_child.stdout
    assert parent["status"] == "succeeded"
    assert parent["steps"]["call"]["outputs"] == {"v": "1"}
    assert parent["steps"]["call"]["child"]["execution_id"] == child


def test_resume_after_the_parent_process_was_killed_takes_its_children_over(workspace: Workspace) -> None:
    workspace.write("nap.yaml", "name: nap\nsteps:\n  - id: nap\n    command: test -f go || sleep 30\n")
    workspace.write("naps.yaml", "name: naps\nsteps:\n  - id: each\n    for_each: [1, 2]\n    workflow: nap\n")
    process = workspace.start("run", "naps.yaml")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(_running_children(workspace)) < 2:
        time.sleep(0.2)
    kids = _running_children(workspace)

    process.kill()
    process.communicate(timeout=30)
    (workspace.path / "go").touch()
    record = workspace.run_json("resume", "latest")

    assert record["status"] == "succeeded", record["error"]
    assert [item["child"]["execution_id"] for item in record["steps"]["each"]["items"]] == kids
    assert [workspace.run_json("status", kid)["steps"]["nap"]["attempts"] for kid in kids] == [2, 2]


def test_approving_the_parents_step_says_which_child_to_answer(workspace: Workspace) -> None:
    workspace.write("gated.yaml", "name: gated\nsteps:\n  - id: gate\n    type: approval\n")
    workspace.write("calls-gated.yaml", "name: calls-gated\nsteps:\n  - id: call\n    workflow: gated\n")
    waiting = workspace.run_json("run", "calls-gated.yaml")
    child = waiting["steps"]["call"]["child"]["execution_id"]

    result = workspace.baton("approve", waiting["execution_id"], "call")

    assert result.returncode == 2
    assert f"step call waits for its child execution {child}; answer it: baton approve {child} gate" in result.stderr
