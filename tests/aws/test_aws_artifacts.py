"""``S3ArtifactStore`` beyond the contract: digests checked on every read, blobs written
once, empty logs not stored."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.aws.harness import AwsHarness
from tests.aws.moto_stack import Stack

from baton.adapters.aws.s3_artifacts import INLINE_LOG_BYTES, CorruptArtifactError, S3ArtifactStore
from baton.ports import ArtifactRef, CacheEntry
from baton.steps.shell import SPARE_LOGS

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def artifacts(stack: Stack, tmp_path: Path) -> S3ArtifactStore:
    settings = stack.settings
    return S3ArtifactStore(lambda: stack.clients("s3"), artifacts_bucket=settings.artifacts_bucket,
                           cache_bucket=settings.cache_bucket, scratch=tmp_path / "logs")  # fmt: skip


def overwrite(stack: Stack, bucket: str, key: str, body: bytes, **extra: object) -> None:
    stack.clients("s3").put_object(Bucket=bucket, Key=key, Body=body, **extra)


def test_a_blob_that_does_not_match_its_digest_is_refused(
    artifacts: S3ArtifactStore, stack: Stack, tmp_path: Path
) -> None:
    ref = artifacts.put_bytes(b"the real content")
    overwrite(stack, artifacts.artifacts_bucket, artifacts.blob_key(ref.sha256), b"something else")

    with pytest.raises(CorruptArtifactError):
        artifacts.read_bytes(ref)
    with pytest.raises(OSError, match="digest"):
        artifacts.restore_file(ref, tmp_path / "out.txt")
    assert not (tmp_path / "out.txt").exists()
    assert list(tmp_path.iterdir()) == [], "a temporary file was left behind"


def test_a_missing_blob_is_a_missing_file(artifacts: S3ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        artifacts.restore_file(ArtifactRef("0" * 64, 1), tmp_path / "out.txt")


def test_an_existing_blob_is_never_overwritten(artifacts: S3ArtifactStore, stack: Stack) -> None:
    ref = artifacts.put_bytes(b"content")
    key = artifacts.blob_key(ref.sha256)
    before = stack.clients("s3").head_object(Bucket=artifacts.artifacts_bucket, Key=key)["LastModified"]

    assert artifacts.put_bytes(b"content") == ref

    after = stack.clients("s3").head_object(Bucket=artifacts.artifacts_bucket, Key=key)["LastModified"]
    assert after == before


def test_a_cache_entry_whose_body_does_not_match_its_digest_is_a_miss(artifacts: S3ArtifactStore, stack: Stack) -> None:
    artifacts.put_cached("k" * 64, CacheEntry({"out": "x"}, {}, NOW, None))
    assert artifacts.get_cached("k" * 64, NOW) is not None
    body = json.dumps({"outputs": {"out": "forged"}, "artifacts": {}}).encode()
    metadata = {"sha256": hashlib.sha256(b"other").hexdigest()}
    overwrite(stack, artifacts.cache_bucket, "cache/" + "k" * 64, body, Metadata=metadata)

    assert artifacts.get_cached("k" * 64, NOW) is None


def test_only_a_log_longer_than_the_record_keeps_is_stored(artifacts: S3ArtifactStore, stack: Stack) -> None:
    long = "x" * (INLINE_LOG_BYTES + 1)
    for step, stream, text in (("build", "stdout", long), ("build", "stderr", ""), ("small", "stdout", "hello\n")):
        path = artifacts.log_file("e1", step, 1, stream)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        artifacts.publish_log("e1", step, 1, stream)

    assert [(e.step_key, e.stream, e.text) for e in artifacts.read_logs("e1")] == [("build", "stdout", long)]
    assert not artifacts.log_file("e1", "build", 1, "stdout").exists(), "the local copy was kept"
    assert not artifacts.log_file("e1", "small", 1, "stdout").exists(), "the local copy was kept"


def test_a_log_whose_empty_file_another_step_took_is_nothing_to_publish(
    artifacts: S3ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stream that printed nothing keeps its file open for the next step, which renames
    # it to its own log, possibly on another worker thread before this step publishes.
    artifacts.publish_log("e1", "quiet", 1, "stdout")  # no file: no error, no upload
    assert artifacts.read_logs("e1") == []
    # ... or while it publishes: here, right after the file was first looked at.
    path = artifacts.log_file("e1", "racing", 1, "stdout")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    taken = path.with_name("next.1.stdout.log")
    real_stat = Path.stat
    looks: list[Path] = []

    def stat(self: Path, **kwargs: bool) -> object:
        if self == path:
            looks.append(self)
            if len(looks) > 1 and os.path.exists(self):
                os.rename(self, taken)  # the next step's log now
        return real_stat(self, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    artifacts.publish_log("e1", "racing", 1, "stdout")
    assert artifacts.read_logs("e1") == []
    assert taken.exists() or not path.exists(), "the file is the next step's or gone, never an error"


def test_baton_logs_reads_a_short_log_from_the_step_record(harness: AwsHarness) -> None:
    harness.upload("hello.yaml", "name: hello\nsteps:\n  - id: greet\n    command: echo hello\n")
    before = harness.meter.snapshot()
    execution_id = harness.start("hello")
    harness.drain(execution_id)
    puts = harness.meter.snapshot().minus(before).calls[("s3", "PutObject")]

    logs = harness.backend.engine("logs").logs(execution_id)

    assert [(e.step_key, e.stream, e.text.strip()) for e in logs] == [("greet", "stdout", "hello")]
    assert puts == 0, "a short log was uploaded"


def test_an_empty_log_held_for_the_next_step_is_let_go_when_its_file_is_dropped(artifacts: S3ArtifactStore) -> None:
    # A stream that printed nothing is held open to become the next step's log; on AWS its
    # file is removed once the step ends, so the next step must be given a new file instead.
    SPARE_LOGS.settle()  # what earlier tests in this process held
    quiet = str(artifacts.log_file("e1", "quiet", 1, "stdout"))
    (held,) = SPARE_LOGS.open((quiet,))
    SPARE_LOGS.keep([(quiet, held)])

    artifacts.publish_log("e1", "quiet", 1, "stdout")

    assert held.closed, "the held log was let go"
    assert not Path(quiet).exists()
    later: list[tuple[str, str]] = []
    (fresh,) = SPARE_LOGS.open((str(artifacts.log_file("e1", "next", 1, "stdout")),), later)
    fresh.close()
    assert later == [], "the next step's log is a new file, not the removed one renamed"
