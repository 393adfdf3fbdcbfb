"""A step's process starts with the signals Python ignores (SIGPIPE, SIGXFSZ) back at their
default, however it is started: spawned directly (an argv, or bash for a script) or through
``Popen`` when a secret is masked in its output. Real processes, read from ``/proc``."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from baton.bootstrap import local_engine
from baton.engine.records import StepRecord

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")

SPAWNED = """\
name: spawned
steps:
  - id: direct
    argv: [grep, SigIgn, /proc/self/status]
  - id: script
    command: "grep SigIgn /proc/self/status; true"
  - id: pipe
    command: "yes | head -1"
"""

MASKED = """\
name: masked
secrets:
  TOKEN: {env: SIGNALS_TOKEN}
steps:
  - id: masked
    command: "grep SigIgn /proc/self/status; test -n {{ secrets.TOKEN }}"
"""


def _run(tmp_path: Path, text: str) -> dict[str, StepRecord]:
    engine = local_engine(tmp_path / "state", {"PATH": "/usr/bin:/bin", "SIGNALS_TOKEN": "s3cret"})
    (tmp_path / "w.yaml").write_text(text)
    definition, digest = engine.load(tmp_path / "w.yaml")
    execution = engine.start(definition, digest, {}, workspace=tmp_path)
    engine.drive(execution.execution_id)
    return engine.ports.store.get_steps(execution.execution_id)


def _assert_default_signals(record: StepRecord) -> None:
    assert record.status == "succeeded", record.error
    mask = int(record.outputs["stdout"].split()[-1], 16)
    ignored = {number for number in range(1, 64) if mask & (1 << (number - 1))}
    assert signal.SIGPIPE not in ignored, record.step_id
    assert signal.SIGXFSZ not in ignored, record.step_id


def test_a_spawned_process_gets_sigpipe_and_sigxfsz_at_their_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a step in the current directory is spawned directly
    steps = _run(tmp_path, SPAWNED)
    _assert_default_signals(steps["direct"])
    _assert_default_signals(steps["script"])
    # yes ends on SIGPIPE once head has its line (128 + 13), as in a terminal; under
    # pipefail that fails the step, where an ignored SIGPIPE gave "Broken pipe" instead.
    assert steps["pipe"].outputs["exit_code"] == 141
    assert steps["pipe"].outputs["stdout"] == "y"
    assert "Broken pipe" not in steps["pipe"].outputs["stderr"]


def test_a_process_whose_output_is_masked_gets_them_at_their_default_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _assert_default_signals(_run(tmp_path, MASKED)["masked"])
