"""``FilesystemArtifactStore``: blobs, the step cache and logs as files under the state dir.

Layout: ``artifacts/ab/<sha256>``, ``cache/ab/<key>.json``,
``logs/<execution>/<step key>.<attempt>.<stream>.log`` (a shell step's stream that printed
nothing leaves no file: see ``baton.steps.shell.SpareLogs``). Every file is written to a
temporary name and renamed, so a crash never leaves a half-written blob or cache entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from baton.ports import ArtifactRef, CacheEntry, LogEntry

_CHUNK = 1 << 20


def _write_atomically(destination: Path, data: bytes) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class FilesystemArtifactStore:
    """Artifact store, step cache and log store in a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "artifacts"
        self._cache = root / "cache"
        self._logs = root / "logs"
        self._log_folder: tuple[str, Path] = ("", self._logs)
        """The last execution whose log paths were asked for, and its folder (every attempt
        asks for two)."""

    def _blob_path(self, sha256: str) -> Path:
        return self._blobs / sha256[:2] / sha256

    def put_bytes(self, data: bytes) -> ArtifactRef:
        """Store a blob under the SHA-256 of its content."""
        ref = ArtifactRef(hashlib.sha256(data).hexdigest(), len(data))
        path = self._blob_path(ref.sha256)
        if not path.exists():
            _write_atomically(path, data)
        return ref

    def put_file(self, path: Path) -> ArtifactRef:
        """Store a file's content (streamed, so large files are fine)."""
        digest = hashlib.sha256()
        self._blobs.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self._blobs, prefix=".tmp-")
        size = 0
        try:
            with path.open("rb") as source, os.fdopen(handle, "wb") as out:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            ref = ArtifactRef(digest.hexdigest(), size)
            destination = self._blob_path(ref.sha256)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, destination)
        finally:
            Path(temporary).unlink(missing_ok=True)
        return ref

    def read_bytes(self, ref: ArtifactRef) -> bytes:
        """A stored blob's content."""
        return self._blob_path(ref.sha256).read_bytes()

    def restore_file(self, ref: ArtifactRef, destination: Path) -> None:
        """Copy a blob to ``destination`` atomically."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".baton-")
        os.close(handle)
        try:
            shutil.copyfile(self._blob_path(ref.sha256), temporary)
            os.replace(temporary, destination)
        finally:
            Path(temporary).unlink(missing_ok=True)

    # -- cache ----------------------------------------------------------------------------

    def _cache_path(self, key: str) -> Path:
        return self._cache / key[:2] / f"{key}.json"

    def get_cached(self, key: str, now: datetime) -> CacheEntry | None:
        """The entry unless absent or expired."""
        try:
            raw: dict[str, Any] = json.loads(self._cache_path(key).read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        expires_at = datetime.fromisoformat(raw["expires_at"]) if raw.get("expires_at") else None
        if expires_at is not None and expires_at <= now:
            return None
        created_at = datetime.fromisoformat(raw["created_at"]) if raw.get("created_at") else None
        return CacheEntry(raw["outputs"], raw.get("artifacts", {}), created_at, expires_at)

    def put_cached(self, key: str, entry: CacheEntry) -> None:
        """Store an entry (last writer wins)."""
        data = {
            "outputs": entry.outputs,
            "artifacts": entry.artifacts,
            "created_at": entry.created_at.isoformat() if entry.created_at else None,
            "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
        }
        _write_atomically(self._cache_path(key), json.dumps(data, default=str).encode())

    # -- logs -----------------------------------------------------------------------------

    def log_file(self, execution_id: str, step_key: str, attempt: int, stream: str) -> Path:
        """Where one stream of one attempt is written (the writer creates the directory)."""
        known, folder = self._log_folder  # one read: threads of other executions replace it
        if known != execution_id:
            folder = self._logs / execution_id
            self._log_folder = (execution_id, folder)
        return folder / f"{step_key}.{attempt}.{stream}.log"

    def publish_log(self, execution_id: str, step_key: str, attempt: int, stream: str) -> None:
        """Nothing to do: the log file is already where ``read_logs`` looks."""

    def read_logs(self, execution_id: str, step_id: str | None = None) -> list[LogEntry]:
        """Logs of an execution, or of one step with its items and compensation."""
        folder = self._logs / execution_id
        if not folder.is_dir():
            return []
        entries = []
        for log in folder.glob("*.log"):
            # Step keys hold no dots (ids are [a-z0-9_-], items add [n], compensations ~).
            step_key, attempt, stream, _ = log.name.rsplit(".", 3)
            if step_id is not None and not _belongs_to(step_key, step_id):
                continue
            text = log.read_text(encoding="utf-8", errors="replace")
            if not text:
                continue  # a stream that printed nothing (kept open by a step's background process)
            entries.append(LogEntry(step_key, int(attempt), stream, text))
        entries.sort(key=lambda e: (e.step_key, e.attempt, e.stream != "stdout"))
        return entries


def _belongs_to(step_key: str, step_id: str) -> bool:
    return step_key == step_id or step_key.startswith((f"{step_id}[", f"{step_id}~"))
