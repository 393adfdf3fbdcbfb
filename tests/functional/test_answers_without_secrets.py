"""Answering an approval and cancelling need no secrets; resuming without them fails cleanly
(exit 2) before anything changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from baton_cli import Workspace

GATED = """\
name: gated
secrets:
  TOKEN: {env: GATED_TOKEN}
steps:
  - id: gate
    type: approval
    message: go?
  - id: use
    command: echo "using {{ secrets.TOKEN }}" > used.txt
"""


@pytest.fixture
def waiting(tmp_path: Path) -> tuple[Workspace, Workspace, str]:
    """An execution waiting at its gate, started with the secret; and a shell without it."""
    with_secret = Workspace(tmp_path, env={"GATED_TOKEN": "tok-123456"})
    with_secret.write("w.yaml", GATED)
    record = with_secret.run_json("run", "w.yaml")
    assert record["status"] == "waiting"
    without = Workspace(tmp_path)
    assert "GATED_TOKEN" not in os.environ
    return with_secret, without, record["execution_id"]


def test_approve_without_the_secret_records_the_answer(waiting: tuple[Workspace, Workspace, str]) -> None:
    with_secret, without, execution = waiting

    result = without.baton("approve", execution, "gate")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"baton resume {execution}" in result.stdout
    assert with_secret.run_json("status", execution)["steps"]["gate"]["status"] == "succeeded"
    resumed = with_secret.run_json("resume", execution)
    assert resumed["status"] == "succeeded"
    assert (with_secret.path / "used.txt").read_text() == "using tok-123456\n"


def test_cancel_without_the_secret_is_recorded(waiting: tuple[Workspace, Workspace, str]) -> None:
    with_secret, without, execution = waiting

    result = without.baton("cancel", execution)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert with_secret.run_json("resume", execution, expect=1)["status"] == "cancelled"


def test_resume_without_the_secret_fails_before_changing_anything(
    waiting: tuple[Workspace, Workspace, str],
) -> None:
    with_secret, without, execution = waiting
    before = with_secret.run_json("status", execution)

    result = without.baton("resume", execution)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "GATED_TOKEN" in result.stderr
    assert with_secret.run_json("status", execution) == before
