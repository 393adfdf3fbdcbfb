"""Fixtures for the expression engine tests: an engine over a temporary workspace, and bash."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from baton.expr import ExpressionEngine, ShellScript, make_functions

FIXED_NOW = datetime(2024, 5, 17, 12, 30, 0, tzinfo=UTC)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace directory inside the test's temporary directory."""
    root = tmp_path / "workspace"
    root.mkdir()
    return root


@pytest.fixture
def fixed_now() -> datetime:
    """The time the ``engine`` fixture's clock always gives."""
    return FIXED_NOW


@pytest.fixture
def engine(workspace: Path) -> ExpressionEngine:
    """An engine with the built-in functions over ``workspace`` and a fixed clock."""
    return ExpressionEngine(make_functions(workspace, lambda: FIXED_NOW))


@pytest.fixture
def run_script(tmp_path: Path) -> Callable[[ShellScript], subprocess.CompletedProcess[bytes]]:
    """Run a rendered script as the shell step does: ``bash -eo pipefail -c`` in tmp_path."""

    def run(script: ShellScript) -> subprocess.CompletedProcess[bytes]:
        env = {**script.env, "PATH": os.environ["PATH"]}
        return subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script.script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=20,
            check=False,
        )

    return run
