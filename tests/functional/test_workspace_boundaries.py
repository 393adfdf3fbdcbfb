"""Declared outputs stay inside the workspace: refused at validation when static, failed at
run time when templated or behind a symlink, and a cache hit never writes outside."""

from __future__ import annotations

from pathlib import Path

import pytest
from baton_cli import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    inside = tmp_path / "ws"
    inside.mkdir()
    return Workspace(inside)


@pytest.mark.parametrize(
    ("path", "message"),
    [("../victim.txt", "leaves the workspace"), ("/etc/passwd", "absolute path"), ("a/../..", "leaves")],
    ids=["parent", "absolute", "normalised-parent"],
)
def test_a_static_output_outside_the_workspace_fails_validation(workspace: Workspace, path: str, message: str) -> None:
    workspace.write("w.yaml", f"name: w\nsteps:\n  - id: s\n    command: 'true'\n    outputs: {{x: '{path}'}}\n")

    result = workspace.baton("validate", "w.yaml")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "w.yaml:5:" in result.stderr + result.stdout
    assert message in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_templated_output_outside_the_workspace_fails_the_step(workspace: Workspace, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    workspace.write(
        "w.yaml",
        "name: w\ninputs:\n  target: {type: string, default: ../victim.txt}\nsteps:\n"
        "  - id: s\n    use_cache: true\n    command: 'true'\n    outputs: {x: '{{ inputs.target }}'}\n",
    )

    record = workspace.run_json("run", "w.yaml", expect=1)

    assert record["steps"]["s"]["status"] == "failed"
    assert "outside the workspace" in record["steps"]["s"]["error"]
    assert victim.read_text() == "precious"


def test_a_symlink_out_of_the_workspace_fails_the_step(workspace: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the artifact store")
    workspace.write(
        "w.yaml",
        f"name: w\nsteps:\n  - id: s\n    command: ln -sf {secret} link.txt\n    outputs: {{x: link.txt}}\n",
    )

    record = workspace.run_json("run", "w.yaml", expect=1)

    assert "outside the workspace" in record["steps"]["s"]["error"]
    blobs = [p for p in workspace.state_dir.rglob("*") if p.is_file()]
    assert all(b"not for the artifact store" not in p.read_bytes() for p in blobs)


def test_a_cache_hit_never_overwrites_a_file_outside_the_workspace(workspace: Workspace, tmp_path: Path) -> None:
    # GIVEN a cached step whose output became a symlink out of the workspace after it was cached
    workspace.write(
        "w.yaml",
        "name: w\nsteps:\n  - id: s\n    use_cache: true\n    command: echo old > out.txt\n    outputs: {x: out.txt}\n",
    )
    workspace.run_json("run", "w.yaml")
    victim = tmp_path / "victim.txt"
    victim.write_text("changed by the user")
    (workspace.path / "out.txt").unlink()
    (workspace.path / "out.txt").symlink_to(victim)

    workspace.run_json("run", "w.yaml", expect=1)

    assert victim.read_text() == "changed by the user"


def test_an_absolute_output_inside_the_workspace_is_accepted(workspace: Workspace) -> None:
    workspace.write(
        "w.yaml",
        "name: w\nsteps:\n  - id: s\n    command: echo hi > out.txt\n    outputs: {x: '{{ inputs.dir }}/out.txt'}\n"
        "inputs:\n  dir: {type: string}\n",
    )

    record = workspace.run_json("run", "w.yaml", "--input", f"dir={workspace.path}")

    assert record["status"] == "succeeded"
    assert record["steps"]["s"]["outputs"]["x"] == str(workspace.path.resolve() / "out.txt")
