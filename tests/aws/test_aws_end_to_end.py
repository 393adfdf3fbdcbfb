"""End to end on moto over HTTP: upload, register, start by event, drain the real queue."""

from __future__ import annotations

from pathlib import Path

from tests.aws.harness import AwsHarness

SEQUENCE = """
name: sequence
inputs:
  who: {type: string, default: world}
outputs:
  greeting: {value: "{{ steps.greet.outputs.greeting }}"}
steps:
  - id: greet
    command: echo "greeting=hello {{ inputs.who }}" >> "$BATON_OUTPUT"
  - id: shout
    command: echo "{{ steps.greet.outputs.greeting }}" | tr a-z A-Z
  - id: check
    type: assert
    condition: "steps.shout.outputs.stdout == 'HELLO ALICE'"
"""


def test_a_sequence_runs_in_one_worker_invocation(harness: AwsHarness, tmp_path: Path) -> None:
    registered = harness.upload("sequence.yaml", SEQUENCE)
    assert registered["status"] == "registered"

    execution_id = harness.start("sequence", {"who": "alice"})
    final = harness.drain(execution_id)

    assert final.status == "succeeded", final.error
    assert final.outputs == {"greeting": "hello alice"}
    document = harness.document(execution_id)
    assert [document["steps"][s]["status"] for s in ("greet", "shout", "check")] == ["succeeded"] * 3
    assert len(harness.invocations) == 1


FAN_OUT = """
name: fan
steps:
  - id: prepare
    command: echo "names=a b c" >> "$BATON_OUTPUT"
  - id: each
    for_each: "{{ steps.prepare.outputs.names.split() }}"
    command: echo "{{ item }}" >> "$TEST_DIR/fan.log"
  - id: left
    needs: [each]
    command: echo left
  - id: right
    needs: [each]
    command: echo right
  - id: join
    needs: [left, right]
    command: echo "joined={{ steps.left.outputs.stdout }}+{{ steps.right.outputs.stdout }}" >> "$BATON_OUTPUT"
"""


def test_a_fan_out_runs_its_branches_from_the_queue_and_joins_once(harness: AwsHarness, tmp_path: Path) -> None:
    harness.upload("fan.yaml", FAN_OUT)

    execution_id = harness.start("fan")
    final = harness.drain(execution_id, batch=1)

    assert final.status == "succeeded", final.error
    assert sorted((tmp_path / "fan.log").read_text().split()) == ["a", "b", "c"]
    document = harness.document(execution_id)
    assert [item["status"] for item in document["steps"]["each"]["items"]] == ["succeeded"] * 3
    assert document["steps"]["join"]["outputs"]["joined"] == "left+right"
    assert document["steps"]["join"]["attempts"] == 1
    assert len(harness.invocations) >= 3, "the branches were not handed to other invocations"


BROKEN_SEQUENCE = """
name: sequence
steps:
  - id: greet
    command: echo hi
    retry: {max_attempts: 0}
"""


def test_an_invalid_upload_is_rejected_with_line_and_column_and_the_last_good_version_stays(
    harness: AwsHarness,
) -> None:
    harness.upload("sequence.yaml", SEQUENCE)
    good = harness.backend.registry.current("sequence")
    assert good is not None

    rejected = harness.upload("sequence.yaml", BROKEN_SEQUENCE)

    assert rejected["status"] == "rejected"
    assert any(error.startswith("s3://") and ":6:" in error and "max_attempts" in error for error in rejected["errors"])
    assert harness.backend.registry.current("sequence") == good
    bucket = harness.settings.definitions_bucket
    versions = harness.plumbing("s3").list_object_versions(Bucket=bucket, Prefix="sequence.yaml")["Versions"]
    newest = next(v for v in versions if v["IsLatest"])
    tags = harness.plumbing("s3").get_object_tagging(Bucket=bucket, Key="sequence.yaml", VersionId=newest["VersionId"])
    assert {t["Key"]: t["Value"] for t in tags["TagSet"]}["baton-status"] == "rejected"
    execution_id = harness.start("sequence", {"who": "alice"})
    assert harness.drain(execution_id).status == "succeeded"


CACHED = """
name: cached
steps:
  - id: build
    cache_key: "v1"
    outputs: {report: out/report.txt}
    command: |
      mkdir -p out
      echo built >> "$TEST_DIR/builds.log"
      echo "report of the build" > out/report.txt
  - id: read
    command: cat out/report.txt
"""


def test_a_second_run_restores_the_cached_step_from_s3(harness: AwsHarness, tmp_path: Path) -> None:
    harness.upload("cached.yaml", CACHED)

    first = harness.start("cached")
    assert harness.drain(first).status == "succeeded"
    second = harness.start("cached")
    assert harness.drain(second).status == "succeeded"

    assert (tmp_path / "builds.log").read_text().split() == ["built"]
    document = harness.document(second)
    assert (document["steps"]["build"]["status"], document["steps"]["build"]["cache_hit"]) == ("cached", True)
    assert document["steps"]["read"]["outputs"]["stdout"] == "report of the build"
    listed = harness.plumbing("s3").list_objects_v2(Bucket=harness.settings.cache_bucket, Prefix="cache/")
    assert listed["KeyCount"] == 1
