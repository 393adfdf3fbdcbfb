"""``S3ArtifactStore``: content-addressed blobs, the step cache and logs in S3.

Layout::

    artifacts bucket  blobs/<sha256[:2]>/<sha256>                  a blob (artifact, large output)
                      executions/<id>/logs/<step key>/<attempt>.<stream>.log
    cache bucket      cache/<key>                                  JSON {outputs, artifacts};
                                                                   metadata: created/expires/sha256

Blobs are addressed by content, as the ``ArtifactRef`` port requires, so two executions
producing the same file share one object and a cache entry can point at it. Every read
checks the content against its digest; a mismatch or a missing object is an ``OSError``
(the engine then treats a cache entry as a miss instead of restoring a bad file).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from baton.adapters.aws.clients import error_code
from baton.errors import BatonError
from baton.ports import ArtifactRef, CacheEntry, LogEntry
from baton.steps.shell import SPARE_LOGS, TAIL_BYTES

_CHUNK = 1 << 20
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


class CorruptArtifactError(BatonError, OSError):
    """A stored object does not match the digest it is addressed by."""


INLINE_LOG_BYTES = TAIL_BYTES
"""The shell step keeps the last ``TAIL_BYTES`` of each stream in its record."""
_log = logging.getLogger("baton")
"""Powertools' logger of the handlers is named after the service: lines join its stream."""


class S3ArtifactStore:
    """Artifact store, step cache and log store over two buckets; ``s3`` returns the client."""

    def __init__(
        self,
        s3: Callable[[], Any],
        *,
        artifacts_bucket: str,
        cache_bucket: str,
        scratch: Path,
        inline_log_bytes: int = INLINE_LOG_BYTES,
    ) -> None:
        self._s3 = s3
        self.artifacts_bucket = artifacts_bucket
        self.cache_bucket = cache_bucket
        self.scratch = scratch
        """Local folder of log files while a step writes them."""
        self.inline_log_bytes = inline_log_bytes
        """Logs up to this size live in the step record only (and the function's log stream)."""

    # -- blobs ----------------------------------------------------------------------------

    @staticmethod
    def blob_key(sha256: str) -> str:
        """The object key of a blob."""
        return f"blobs/{sha256[:2]}/{sha256}"

    def put_bytes(self, data: bytes) -> ArtifactRef:
        """Store a blob under its SHA-256 (written once: an existing blob is kept)."""
        digest = hashlib.sha256(data)
        ref = ArtifactRef(digest.hexdigest(), len(data))
        self._put_once(ref, data, base64.b64encode(digest.digest()).decode())
        return ref

    def put_file(self, path: Path) -> ArtifactRef:
        """Store a file's content (hashed first, then streamed)."""
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        ref = ArtifactRef(digest.hexdigest(), size)
        with path.open("rb") as source:
            self._put_once(ref, source, base64.b64encode(digest.digest()).decode())
        return ref

    def _put_once(self, ref: ArtifactRef, body: Any, checksum: str) -> None:
        # If-None-Match makes the write conditional on absence: no overwrite of an
        # existing blob and no HEAD request first; S3 checks the SHA-256 on arrival.
        try:
            self._s3().put_object(
                Bucket=self.artifacts_bucket,
                Key=self.blob_key(ref.sha256),
                Body=body,
                ChecksumSHA256=checksum,
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if error_code(exc) not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise

    def read_bytes(self, ref: ArtifactRef) -> bytes:
        """A blob's content, checked against its digest."""
        data: bytes = self._get(self.artifacts_bucket, self.blob_key(ref.sha256)).read()
        if hashlib.sha256(data).hexdigest() != ref.sha256:
            raise CorruptArtifactError(f"blob {ref.sha256} does not match its digest")
        return data

    def restore_file(self, ref: ArtifactRef, destination: Path) -> None:
        """Download a blob to ``destination`` atomically, checking its digest on the way."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".baton-")
        try:
            digest = hashlib.sha256()
            body = self._get(self.artifacts_bucket, self.blob_key(ref.sha256))
            with os.fdopen(handle, "wb") as out:
                for chunk in iter(lambda: body.read(_CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != ref.sha256:
                raise CorruptArtifactError(f"blob {ref.sha256} does not match its digest")
            os.replace(temporary, destination)
        finally:
            Path(temporary).unlink(missing_ok=True)

    def _get(self, bucket: str, key: str) -> Any:
        try:
            return self._s3().get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                raise FileNotFoundError(f"s3://{bucket}/{key} does not exist") from exc
            raise

    # -- cache ----------------------------------------------------------------------------

    def get_cached(self, key: str, now: datetime) -> CacheEntry | None:
        """The entry unless absent, expired, or not matching its digest."""
        try:
            response = self._s3().get_object(Bucket=self.cache_bucket, Key=f"cache/{key}")
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        metadata = response.get("Metadata", {})
        expires_at = _time(metadata.get("expires-at"))
        if expires_at is not None and expires_at <= now:
            return None
        body = response["Body"].read()
        if hashlib.sha256(body).hexdigest() != metadata.get("sha256"):
            return None  # a torn or tampered entry is a miss: the step runs again
        raw = json.loads(body)
        return CacheEntry(raw["outputs"], raw.get("artifacts", {}), _time(metadata.get("created-at")), expires_at)

    def put_cached(self, key: str, entry: CacheEntry) -> None:
        """Store an entry (the last writer wins; entries for one key are equivalent)."""
        body = json.dumps({"outputs": entry.outputs, "artifacts": entry.artifacts}, default=str).encode()
        metadata = {"sha256": hashlib.sha256(body).hexdigest()}
        if entry.created_at is not None:
            metadata["created-at"] = entry.created_at.isoformat()
        if entry.expires_at is not None:
            metadata["expires-at"] = entry.expires_at.isoformat()
        self._s3().put_object(
            Bucket=self.cache_bucket, Key=f"cache/{key}", Body=body, Metadata=metadata, ContentType="application/json"
        )

    # -- logs -----------------------------------------------------------------------------

    def log_file(self, execution_id: str, step_key: str, attempt: int, stream: str) -> Path:
        """The local file a stream is written to before :meth:`publish_log` uploads it."""
        return self.scratch / execution_id / f"{step_key}.{attempt}.{stream}.log"

    def publish_log(self, execution_id: str, step_key: str, attempt: int, stream: str) -> None:
        """Upload a finished log file that is longer than the step record keeps, and drop the
        local copy.

        Each log is an S3 PUT, which costs more than the step's DynamoDB writes. A log the
        record holds whole (its ``stdout``/``stderr`` tail, up to ``inline_log_bytes``) is
        not stored again: it goes to the function's own log stream, and ``baton logs`` reads
        it from the record.
        """
        path = self.log_file(execution_id, step_key, attempt, stream)
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # the stream printed nothing: its empty file became another log
            return
        if size <= self.inline_log_bytes:
            if size:
                text = path.read_text(errors="replace")
                _log.info("step log", extra={"execution_id": execution_id, "step_key": step_key,
                                             "attempt": attempt, "stream": stream, "text": text})  # fmt: skip
            else:
                SPARE_LOGS.drop(str(path))  # held for the next step's log: not any more
            path.unlink(missing_ok=True)
            return
        key = f"executions/{execution_id}/logs/{step_key}/{attempt}.{stream}.log"
        with path.open("rb") as body:
            self._s3().put_object(Bucket=self.artifacts_bucket, Key=key, Body=body, ContentType="text/plain")
        with contextlib.suppress(OSError):
            path.unlink()

    def read_logs(self, execution_id: str, step_id: str | None = None) -> list[LogEntry]:
        """Logs of an execution, or of one step with its items and compensation."""
        prefix = f"executions/{execution_id}/logs/"
        entries = []
        paginator = self._s3().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.artifacts_bucket, Prefix=prefix):
            for summary in page.get("Contents", []):
                step_key, _, name = summary["Key"][len(prefix) :].rpartition("/")
                if step_id is not None and not _belongs_to(step_key, step_id):
                    continue
                attempt, stream, _ = name.split(".", 2)
                text = self._get(self.artifacts_bucket, summary["Key"]).read().decode("utf-8", errors="replace")
                entries.append(LogEntry(step_key, int(attempt), stream, text))
        entries.sort(key=lambda e: (e.step_key, e.attempt, e.stream != "stdout"))
        return entries


def _belongs_to(step_key: str, step_id: str) -> bool:
    return step_key == step_id or step_key.startswith((f"{step_id}[", f"{step_id}~"))


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
