"""An execution's starting files on AWS: a folder packed as one blob of the artifact store.

``baton start --stack S --workspace DIR`` packs ``DIR`` (``pack``) and stores the archive
as a blob; the start request names it and the execution's trigger keeps it under
``workspace``. Each Lambda sandbox (and long-step build) that runs a step of the
execution unpacks it into its workspace before the first step it runs there
(``WorkspaceSeeds``), so every step sees the same starting files wherever it runs; a
child execution inherits its parent's. Files a step writes still reach later steps only
as declared outputs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from baton.adapters.aws.s3_artifacts import CorruptArtifactError, S3ArtifactStore
from baton.errors import BatonError
from baton.ports import ArtifactRef

WORKSPACE_KEY = "workspace"
"""The trigger's entry naming the archive: ``{"$artifact": sha256, "size": bytes}``."""
SKIPPED_NAMES = frozenset(
    {".git", ".hg", ".svn", ".baton", ".venv", "venv", "node_modules", "__pycache__",
     ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", "cdk.out"}
)  # fmt: skip
"""Folders never packed, wherever they are: version control, Baton's state, environments, caches."""
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
"""Half of a Lambda sandbox's default ``/tmp`` (512 MB): room is left for the steps' own files."""


class WorkspaceError(BatonError):
    """A workspace cannot be packed or unpacked: what and why."""


def pack(folder: Path, archive: Path) -> int:
    """Write ``folder``'s files to ``archive`` (a gzipped tar); return how many files it holds.

    Regular files, folders and symbolic links that stay inside ``folder`` are kept with
    their modes; owners and times are not, so the same files give the same archive (and
    the same blob). ``SKIPPED_NAMES`` are left out.
    """
    import gzip
    import tarfile

    if not folder.is_dir():
        raise WorkspaceError(f"--workspace {folder}: not a folder")
    with (
        archive.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        return _add_all(tar, folder)


def _add_all(tar: Any, folder: Path) -> int:
    count = size = 0
    for path in _walk(folder):
        relative = path.relative_to(folder).as_posix()
        info = tar.gettarinfo(str(path), arcname=relative)
        if info.issym() and not _inside(folder, path):
            raise WorkspaceError(f"--workspace {folder}: {relative} links outside the folder")
        if not (info.isfile() or info.isdir() or info.issym()):
            continue  # sockets, FIFOs, devices: nothing a step could use elsewhere
        info.uid = info.gid = info.mtime = 0
        info.uname = info.gname = ""
        size += info.size
        if size > MAX_UNPACKED_BYTES:
            raise WorkspaceError(
                f"--workspace {folder}: more than {MAX_UNPACKED_BYTES // 2**20} MiB of files; "
                "leave out what the steps do not need"
            )
        if info.isfile():
            with path.open("rb") as content:
                tar.addfile(info, content)
            count += 1
        else:
            tar.addfile(info)
    return count


def _walk(folder: Path) -> Iterator[Path]:
    """Every entry under ``folder`` in a stable order, without ``SKIPPED_NAMES``."""
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if name not in SKIPPED_NAMES)
        base = Path(root)
        for name in (*folders, *sorted(files)):
            yield base / name


def _inside(folder: Path, link: Path) -> bool:
    return link.resolve().is_relative_to(folder.resolve())


def unpack(archive: Path, destination: Path) -> None:
    """Extract ``archive`` into ``destination``, refusing anything that would land outside it."""
    import tarfile

    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            members = tar.getmembers()
            if sum(member.size for member in members) > MAX_UNPACKED_BYTES:
                raise WorkspaceError(f"the workspace archive unpacks to more than {MAX_UNPACKED_BYTES // 2**20} MiB")
            # The ``data`` filter refuses absolute names, ``..``, links leaving the folder and devices.
            tar.extractall(destination, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise WorkspaceError(f"the workspace archive cannot be unpacked: {exc}") from exc


def workspace_ref(trigger: Mapping[str, Any]) -> ArtifactRef | None:
    """The archive an execution's trigger names, if any."""
    data = trigger.get(WORKSPACE_KEY)
    if not isinstance(data, Mapping):
        return None
    return ArtifactRef.from_data(data)


class WorkspaceSeeds:
    """Puts an execution's starting files into a sandbox's workspace, once per sandbox."""

    def __init__(self, artifacts: S3ArtifactStore) -> None:
        self.artifacts = artifacts

    def store(self, folder: Path, scratch: Path) -> tuple[ArtifactRef, int]:
        """Pack ``folder`` and store the archive; return its reference and file count."""
        archive = scratch / "workspace.tar.gz"
        count = pack(folder, archive)
        return self.artifacts.put_file(archive), count

    def prepare(self, workspace: Path, trigger: Mapping[str, Any]) -> None:
        """Make ``workspace`` exist, holding the trigger's archive unpacked the first time.

        The archive is unpacked into a sibling folder that is renamed into place, so a
        workspace that exists is complete: a sandbox that died half-way unpacks again.
        """
        ref = workspace_ref(trigger)
        if ref is None or workspace.exists():
            workspace.mkdir(parents=True, exist_ok=True)
            return
        partial = workspace.with_name(f".{workspace.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        archive = workspace.with_name(f".{workspace.name}.tar.gz")
        try:
            try:
                self.artifacts.restore_file(ref, archive)
            except (FileNotFoundError, CorruptArtifactError) as exc:
                raise WorkspaceError(f"the execution's workspace archive cannot be read: {exc}") from exc
            unpack(archive, partial)
            partial.rename(workspace)
        finally:
            archive.unlink(missing_ok=True)
            shutil.rmtree(partial, ignore_errors=True)
