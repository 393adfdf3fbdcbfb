"""What ``baton run`` imports: the start-up figures of docs/benchmarks.md rest on it, and a
stray top-level import undoes them without failing any other test. Not timed: each case runs
a real ``baton run`` in a fresh interpreter and reads ``sys.modules`` after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Run ``baton run`` in this interpreter, then list every module it loaded (from an exit
# handler: ``main`` runs those before it ends the process).
_PROBE = """
import atexit, json, sys
from baton.cli.main import main
out, sys.argv = sys.argv[1], ["baton", *sys.argv[2:]]

def dump():
    with open(out, "w") as handle:
        json.dump(sorted(sys.modules), handle)

atexit.register(dump)
main()
"""

NEVER = ("boto3", "botocore", "aws_lambda_powertools", "rich", "aws_cron_expression_validator")
"""Never loaded by a local ``baton run`` whose output is not a terminal."""
LANGUAGE = ("pydantic", "yaml", "baton.spec.models", "baton.spec.steps")
"""Loaded only to validate a file that was never run here."""
TEMPLATES = ("jinja2", "baton.expr.engine")
"""Loaded only when a workflow has a template or an expression."""

PLAIN = 'name: plain\nsteps:\n  - id: a\n    command: "true"\n  - id: b\n    argv: [echo, done]\n'


def _loaded(tmp_path: Path, *args: str) -> set[str]:
    out = tmp_path / "modules.json"
    env = {**os.environ, "BATON_STATE_DIR": str(tmp_path / "state")}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(out), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.exists(), done.stdout + done.stderr
    kept = ("baton.", "importlib.metadata")
    return {name if name.startswith(kept) else name.split(".")[0] for name in json.loads(out.read_text())}


def _present(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in modules]


def test_importing_the_cli_loads_no_engine_language_or_cloud_sdk(tmp_path: Path) -> None:
    modules = _loaded(tmp_path, "--version")
    assert _present(modules, (*NEVER, *LANGUAGE, *TEMPLATES, "sqlite3")) == []


def test_a_first_run_of_a_plain_file_validates_it_without_jinja_or_the_cloud_sdk(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(PLAIN)
    modules = _loaded(tmp_path, "run", "w.yaml")
    assert _present(modules, LANGUAGE) == list(LANGUAGE), "the file was validated"
    assert _present(modules, (*NEVER, *TEMPLATES)) == []
    assert "importlib.metadata" not in modules, "pydantic looked for plugins in every package's metadata"


def test_a_run_of_a_file_seen_before_loads_neither_the_models_nor_the_yaml_reader(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(PLAIN)
    _loaded(tmp_path, "run", "w.yaml")  # stores the compiled definition
    modules = _loaded(tmp_path, "run", "w.yaml")
    assert "baton.engine.driver" in modules, "the workflow ran"
    assert _present(modules, (*NEVER, *LANGUAGE, *TEMPLATES)) == []


@pytest.mark.parametrize(
    "body",
    [
        '    command: "echo {{ inputs.who }}"\n',
        "    when: inputs.who != ''\n    command: \"true\"\n",
    ],
    ids=["template", "expression"],
)
def test_a_file_with_a_template_is_checked_with_jinja(tmp_path: Path, body: str) -> None:
    text = f"name: templated\ninputs:\n  who: {{default: me}}\nsteps:\n  - id: a\n{body}"
    (tmp_path / "w.yaml").write_text(text)
    modules = _loaded(tmp_path, "validate", "w.yaml")
    assert "jinja2" in modules
    assert _present(modules, NEVER) == []
