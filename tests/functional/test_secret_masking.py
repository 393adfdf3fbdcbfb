"""A secret planted through every path that once leaked it never appears in the state dir,
``run --json``, ``status``, ``logs`` or an error."""

from __future__ import annotations

from pathlib import Path

import pytest
from baton_cli import Workspace

SECRET = "Sec\\ret'9x7Q"  # a backslash and a quote: repr and JSON show it escaped

WORKFLOW = """\
name: leak
secrets:
  TOKEN: {env: LEAK_TOKEN}
steps:
  - id: argv
    needs: []
    argv: ["/nonexistent/{{ secrets.TOKEN }}"]
    continue_on_error: true
  - id: working_dir
    needs: []
    command: "true"
    working_dir: "sub/{{ secrets.TOKEN }}"
    continue_on_error: true
  - id: integer
    needs: []
    command: "echo $(( {{ secrets.TOKEN }} + 1 ))"
    continue_on_error: true
  - id: http
    needs: []
    type: http
    url: "http://127.0.0.1:9/{{ secrets.TOKEN }}"
    continue_on_error: true
  - id: items
    needs: []
    for_each: "{{ ['a', secrets.TOKEN] }}"
    command: echo "{{ item }}"
    continue_on_error: true
  - id: by_name
    needs: []
    for_each: ["TOKEN"]
    command: test -n "{{ secrets[item] }}"
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path, env={"LEAK_TOKEN": SECRET})


def _forms() -> list[str]:
    return [SECRET, SECRET.replace("\\", "\\\\"), "Sec", "9x7Q"]


def test_a_secret_never_reaches_the_state_or_the_output(workspace: Workspace) -> None:
    workspace.write("leak.yaml", WORKFLOW)

    run = workspace.baton("run", "leak.yaml", "--json")
    execution = workspace.latest_execution()
    shown = [
        run.stdout,
        run.stderr,
        workspace.baton("status", execution).stdout,
        workspace.baton("status", execution, "--json").stdout,
        *(workspace.baton("logs", execution, "--step", step).stdout for step in ("argv", "working_dir", "http")),
    ]

    assert '"status": "failed"' in run.stdout or "failed" in run.stdout, run.stdout + run.stderr
    for text in shown:
        assert all(form not in text for form in _forms()), text
    for path in workspace.state_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert all(form.encode() not in data for form in _forms()), path


def test_a_for_each_over_secret_values_is_refused_with_the_way_out(workspace: Workspace) -> None:
    workspace.write("leak.yaml", WORKFLOW)

    record = workspace.run_json("run", "leak.yaml")

    assert record["steps"]["items"]["status"] == "failed"
    assert "iterate over names" in record["steps"]["items"]["error"]
    assert record["steps"]["by_name"]["status"] == "succeeded"
