"""How a ``baton`` process ends: ``main`` runs the exit handlers, flushes the output and ends
the process without tearing the interpreter down, unless a thread is still at work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.functional.baton_cli import Workspace

# ``main`` in a fresh interpreter, with something of the test's set up around it first.
_PROBE = """
import atexit, sys, threading, time
from baton.cli.main import main
marker, setup, sys.argv = sys.argv[1], sys.argv[2], ["baton", *sys.argv[3:]]

def write_marker():
    time.sleep(0.3)
    with open(marker, "w") as handle:
        handle.write("done")

if setup == "thread":
    threading.Thread(target=write_marker).start()
elif setup == "handler":
    atexit.register(lambda: sys.stdout.write("said at exit\\n"))
main()
"""


def _probe(tmp_path: Path, setup: str, *args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    marker = tmp_path / "marker"
    buffered = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(marker), setup, *args],
        cwd=tmp_path,
        env=buffered,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, marker


def test_a_run_leaves_a_closed_state_file_that_the_next_process_reads(tmp_path: Path) -> None:
    space = Workspace(tmp_path)
    (tmp_path / "w.yaml").write_text('name: w\nsteps:\n  - id: a\n    command: "true"\n')
    ran = space.baton("run", "w.yaml")
    assert ran.returncode == 0, ran.stderr
    # The last connection closed folds its WAL back into the file and removes it.
    assert sorted(path.name for path in space.state_dir.glob("state.db*")) == ["state.db"]
    status = space.baton("status", "latest", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "succeeded"


def test_what_an_exit_handler_prints_reaches_the_pipe(tmp_path: Path) -> None:
    done, _ = _probe(tmp_path, "handler", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "said at exit"


def test_a_thread_still_running_is_waited_for(tmp_path: Path) -> None:
    done, marker = _probe(tmp_path, "thread", "--version")
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "done"


def test_the_exit_status_is_the_commands(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\nsteps:\n  - id: a\n    comand: true\n")
    done, _ = _probe(tmp_path, "none", "validate", "bad.yaml")
    assert done.returncode == 2
    assert "bad.yaml:3:5:" in done.stderr
    assert "did you mean 'command'" in done.stderr
