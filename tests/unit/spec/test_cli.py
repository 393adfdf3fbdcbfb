"""The `baton` shell: validate, graph, schema, --version and their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from baton import __version__
from baton.cli.main import app

GOOD = "name: good\nsteps:\n  - id: a\n    command: echo a\n  - id: b\n    command: echo b\n"


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_version() -> None:
    code, output = run("--version")
    assert code == 0
    assert output.strip() == f"baton {__version__}"


def test_validate_ok(good_file: Path) -> None:
    code, output = run("validate", str(good_file))
    assert code == 0
    assert f"{good_file}: ok (good, 2 steps)" in output


def test_validate_reports_every_file_and_exits_2(good_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsteps:\n  - id: a\n    type: shel\n")
    code, output = run("validate", str(good_file), str(bad))
    assert code == 2
    assert f"{good_file}: ok" in output
    assert f"{bad}:4:11: steps[0].type: unknown step type 'shel'" in output


def test_validate_missing_file_exits_2(tmp_path: Path) -> None:
    code, output = run("validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "cannot read the file" in output


def test_unknown_option_is_usage_error() -> None:
    code, _ = run("validate", "--frobnicate")
    assert code == 2


@pytest.mark.parametrize(
    ("fmt", "start"),
    [("mermaid", "flowchart TD"), ("dot", 'digraph "good"')],
    ids=["mermaid", "dot"],
)
def test_graph_formats(good_file: Path, fmt: str, start: str) -> None:
    code, output = run("graph", str(good_file), "--format", fmt)
    assert code == 0
    assert output.startswith(start)


def test_graph_of_invalid_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\n")
    code, output = run("graph", str(bad))
    assert code == 2
    assert "missing required key 'steps'" in output


def test_schema_is_json() -> None:
    code, output = run("schema")
    assert code == 0
    assert json.loads(output)["title"] == "Baton workflow"


def test_console_script_runs(good_file: Path) -> None:
    baton = Path(sys.executable).parent / "baton"
    completed = subprocess.run([str(baton), "validate", str(good_file)], capture_output=True, text=True, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "ok (good, 2 steps)" in completed.stdout
