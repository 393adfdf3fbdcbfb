"""Packing and unpacking an execution's starting files (``baton start --workspace``)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from baton.adapters.aws.workspaces import WorkspaceError, pack, unpack


def _project(root: Path) -> Path:
    (root / "src" / "__pycache__").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / "src" / "__pycache__" / "app.cpython-312.pyc").write_bytes(b"\0")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "run.sh").write_text("#!/bin/sh\necho run\n")
    (root / "run.sh").chmod(0o755)
    (root / "link").symlink_to("src/app.py")
    return root


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_packed_folder_unpacks_to_the_same_files_without_caches_and_history(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    archive = tmp_path / "a.tar.gz"

    assert pack(project, archive) == 2
    unpack(archive, tmp_path / "out")

    out = tmp_path / "out"
    assert (out / "src" / "app.py").read_text() == "print('hi')\n"
    assert os.access(out / "run.sh", os.X_OK)
    assert (out / "link").is_symlink()
    assert (out / "link").read_text() == "print('hi')\n"
    assert not (out / ".git").exists()
    assert not (out / "src" / "__pycache__").exists()


def test_the_same_files_make_the_same_archive(tmp_path: Path) -> None:
    first, second = tmp_path / "1.tar.gz", tmp_path / "2.tar.gz"
    project = _project(tmp_path / "project")
    pack(project, first)
    os.utime(project / "src" / "app.py", (0, 0))  # times are not kept
    pack(project, second)
    assert _digest(first) == _digest(second)

    (project / "src" / "app.py").write_text("print('changed')\n")
    pack(project, second)
    assert _digest(first) != _digest(second)


def test_a_link_out_of_the_folder_is_refused_when_packing(tmp_path: Path) -> None:
    project = _project(tmp_path / "project")
    (project / "secrets").symlink_to(Path.home())

    with pytest.raises(WorkspaceError, match="secrets links outside the folder"):
        pack(project, tmp_path / "a.tar.gz")


def test_a_file_is_not_a_workspace(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkspaceError, match="not a folder"):
        pack(tmp_path / "file", tmp_path / "a.tar.gz")


def _archive_of(tmp_path: Path, name: str) -> Path:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        member = tarfile.TarInfo(name)
        member.size = 4
        tar.addfile(member, io.BytesIO(b"evil"))
    (tmp_path / "out").mkdir()
    return archive


def test_an_archive_cannot_write_above_the_workspace(tmp_path: Path) -> None:
    archive = _archive_of(tmp_path, "../escape.txt")

    with pytest.raises(WorkspaceError, match="cannot be unpacked"):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_an_absolute_name_lands_inside_the_workspace(tmp_path: Path) -> None:
    target = tmp_path / "absolute.txt"
    unpack(_archive_of(tmp_path, str(target)), tmp_path / "out")

    assert not target.exists()
    assert (tmp_path / "out" / target.relative_to("/")).read_bytes() == b"evil"


def test_a_link_in_an_archive_cannot_point_out(tmp_path: Path) -> None:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        link = tarfile.TarInfo("passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    (tmp_path / "out").mkdir()

    with pytest.raises(WorkspaceError, match="cannot be unpacked"):
        unpack(archive, tmp_path / "out")


def test_garbage_is_not_an_archive(tmp_path: Path) -> None:
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    with pytest.raises(WorkspaceError, match="cannot be unpacked"):
        unpack(tmp_path / "junk.tar.gz", tmp_path / "out")
