"""A shell step's two log files: a stream that printed nothing leaves no file, and a chain of
quiet steps reuses the same four open files (two pairs taking turns) instead of opening new
ones. Real processes, real SQLite, real files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import IO, Any

import pytest

from baton.bootstrap import local_engine
from baton.steps import shell
from baton.steps.shell import SpareLogs


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the shell step type opens, in order."""
    paths: list[str] = []

    def recorded(path: str, mode: str = "r", *args: Any, **kwargs: Any) -> IO[Any]:
        paths.append(str(path))
        return open(path, mode, *args, **kwargs)  # the caller closes it

    monkeypatch.setattr(shell, "open", recorded, raising=False)
    return paths


def test_a_chain_of_quiet_steps_opens_four_log_files_in_all(tmp_path: Path, opened: list[str]) -> None:
    # s1 starts as soon as s0 has exited, before s0's logs are free: two pairs take turns.
    engine = local_engine(tmp_path / "state")
    steps = "".join(f"  - id: s{i}\n    command: 'true'\n" for i in range(12))
    (tmp_path / "w.yaml").write_text(f"name: quiet-chain\nsteps:\n{steps}")
    definition, digest = engine.load(tmp_path / "w.yaml")
    execution = engine.start(definition, digest, {}, workspace=tmp_path)
    assert engine.drive(execution.execution_id).status == "succeeded"
    assert [Path(p).name for p in opened] == ["s0.1.stdout.log", "s0.1.stderr.log", "s1.1.stdout.log",
                                              "s1.1.stderr.log"]  # fmt: skip
    logs = tmp_path / "state" / "logs"
    assert list((logs / execution.execution_id).iterdir()) == [], "a stream that printed nothing leaves no file"
    assert len(list((logs / ".spare").iterdir())) == 4, "the four files became spares when the driver stopped"


def test_a_step_that_prints_keeps_its_log_and_the_next_step_gets_a_fresh_one(tmp_path: Path, opened: list[str]) -> None:
    engine = local_engine(tmp_path / "state")
    text = (
        "name: talk\nsteps:\n  - {id: a, command: 'true'}\n  - {id: b, command: 'echo said'}\n"
        "  - {id: c, command: 'echo more'}\n"
    )
    (tmp_path / "w.yaml").write_text(text)
    definition, digest = engine.load(tmp_path / "w.yaml")
    execution = engine.start(definition, digest, {}, workspace=tmp_path)
    assert engine.drive(execution.execution_id).status == "succeeded"
    folder = tmp_path / "state" / "logs" / execution.execution_id
    assert {p.name: p.read_text() for p in folder.iterdir()} == {"b.1.stdout.log": "said\n", "c.1.stdout.log": "more\n"}
    names = [Path(p).name for p in opened]
    assert names == ["a.1.stdout.log", "a.1.stderr.log", "b.1.stdout.log", "b.1.stderr.log"], (
        "b started as a exited, so it got logs of its own; c got a's, which a left empty"
    )


def test_held_logs_whose_folder_went_away_give_way_to_new_files(tmp_path: Path) -> None:
    spares = SpareLogs()
    first = (str(tmp_path / "logs" / "e1" / "a.1.stdout.log"), str(tmp_path / "logs" / "e1" / "a.1.stderr.log"))
    handles = spares.open(first)
    spares.keep(list(zip(first, handles, strict=True)))
    shutil.rmtree(tmp_path / "logs" / "e1")
    second = (str(tmp_path / "logs" / "e2" / "b.1.stdout.log"), str(tmp_path / "logs" / "e2" / "b.1.stderr.log"))
    out, err = spares.open(second)
    assert all(handle.closed for handle in handles), "the held handles were closed, not leaked"
    out.write(b"x")
    out.flush()
    assert Path(second[0]).read_bytes() == b"x"
    assert Path(second[1]).exists()
    out.close()
    err.close()


def test_no_more_than_a_few_logs_are_held_open(tmp_path: Path) -> None:
    spares = SpareLogs()
    folder = tmp_path / "logs" / "e1"
    kept: list[tuple[str, IO[bytes]]] = []
    for index in range(SpareLogs.HELD + 3):
        path = str(folder / f"s{index}.1.stdout.log")
        kept.append((path, spares.open((path,))[0]))
    spares.keep(kept)
    assert sum(handle.closed for _, handle in kept) == 3
    assert len(list((tmp_path / "logs" / ".spare").iterdir())) == 3
    spares.settle()
    assert all(handle.closed for _, handle in kept)
    assert list(folder.iterdir()) == []
    assert len(list((tmp_path / "logs" / ".spare").iterdir())) == SpareLogs.HELD + 3


def test_a_held_log_whose_file_was_dropped_is_closed_and_left_out(tmp_path: Path) -> None:
    # On AWS the artifact store drops the local copy of an empty log once the step ends.
    spares = SpareLogs()
    folder = tmp_path / "logs" / "e1"
    first = (str(folder / "a.1.stdout.log"), str(folder / "a.1.stderr.log"))
    handles = spares.open(first)
    spares.keep(list(zip(first, handles, strict=True)))
    for path in first:
        Path(path).unlink()
    (out,) = spares.open((str(folder / "b.1.stdout.log"),))
    assert all(handle.closed for handle in handles)
    assert out not in handles
    out.close()
    assert sorted(p.name for p in folder.iterdir()) == ["b.1.stdout.log"]
    assert not (tmp_path / "logs" / ".spare").exists(), "nothing to keep: no spares' folder is made"


def test_a_held_log_is_renamed_once_its_process_runs_and_rescued_if_that_fails(tmp_path: Path) -> None:
    spares = SpareLogs()
    folder = tmp_path / "logs" / "e1"
    first = (str(folder / "a.1.stdout.log"), str(folder / "a.1.stderr.log"))
    spares.keep(list(zip(first, spares.open(first), strict=True)))
    second = (str(folder / "b.1.stdout.log"), str(folder / "b.1.stderr.log"))
    later: list[tuple[str, str]] = []
    out, err = spares.open(second, later)
    assert sorted(to for _, to in later) == sorted(second), "both held logs are renamed later"
    assert not any(Path(path).exists() for path in second), "nothing is renamed before the process starts"
    source = {to: old for old, to in later}
    Path(source[second[0]]).unlink()  # the stdout log's file goes away before its rename
    out.write(b"printed\n")
    out.flush()
    assert spares.place(later) == {second[0]}
    assert Path(second[1]).exists(), "the other log was renamed into place"
    shell.rescue(out, second[0])
    shell.rescue(err, second[1])
    out.close()
    err.close()
    assert Path(second[0]).read_bytes() == b"printed\n", "what the process printed reached its log's path"
    assert Path(second[1]).read_bytes() == b""
