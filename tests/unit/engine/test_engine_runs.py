"""The engine end to end on fake ports: outputs, retries, timeouts, caching, masking,
for_each, compensation, approval, wait, cancel and resume."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from engine_harness import Harness

from baton.engine.attempt import LARGE_OUTPUT_BYTES
from baton.errors import DefinitionError, InputError, ResumeError


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness.create(tmp_path, secrets={"DEMO_TOKEN": "s3cr3t-value"})


def test_shell_outputs_from_stdout_baton_output_and_declared_files(harness: Harness) -> None:
    execution = harness.run(
        """
name: outputs
steps:
  - id: make
    command: |
      echo "hello"
      echo "plain=one" >> "$BATON_OUTPUT"
      printf 'notes<<END\\nline 1\\nline 2\\nEND\\n' >> "$BATON_OUTPUT"
      echo report > report.txt
    outputs: {report: report.txt}
"""
    )
    assert execution.status == "succeeded"
    outputs = harness.document(execution)["steps"]["make"]["outputs"]
    assert outputs["stdout"] == "hello"
    assert outputs["plain"] == "one"
    assert outputs["notes"] == "line 1\nline 2"
    assert outputs["report"] == str(harness.workspace / "report.txt")
    assert outputs["exit_code"] == 0


def test_a_missing_declared_output_fails_the_step(harness: Harness) -> None:
    execution = harness.run("name: w\nsteps:\n  - id: a\n    command: 'true'\n    outputs: {x: nope.txt}\n")
    assert execution.status == "failed"
    assert "declared output 'x'" in (execution.error or "")


def test_retries_back_off_on_the_injected_clock(harness: Harness) -> None:
    execution = harness.run(
        """
name: flaky
steps:
  - id: flaky
    retry: {max_attempts: 3, backoff: {initial: 10s, multiplier: 3}}
    command: |
      n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count
      [ "$n" -ge 3 ]
"""
    )
    record = harness.steps(execution)["flaky"]
    assert (execution.status, record.attempt) == ("succeeded", 3)
    assert 40 <= sum(harness.clock.slept) < 41, "waited 10s then 30s on the clock, not the wall"


@pytest.mark.parametrize(
    ("retry_on", "attempts"),
    [("[error]", 3), ("[timeout]", 1)],
    ids=["errors-retried", "errors-not-retried"],
)
def test_retry_on_picks_what_is_retried(harness: Harness, retry_on: str, attempts: int) -> None:
    execution = harness.run(
        f"name: w\nsteps:\n  - id: a\n    retry: {{max_attempts: 3, on: {retry_on}}}\n    command: exit 1\n"
    )
    assert execution.status == "failed"
    assert harness.steps(execution)["a"].attempt == attempts


def test_a_timeout_kills_the_whole_process_group(harness: Harness) -> None:
    started = time.monotonic()
    execution = harness.run(
        """
name: slow
steps:
  - id: slow
    timeout: 0.5s
    command: |
      sleep 30 &
      echo $! > child.pid
      sleep 30
"""
    )
    assert time.monotonic() - started < 10
    record = harness.steps(execution)["slow"]
    assert (record.status, record.error_kind) == ("failed", "timeout")
    child = int((harness.workspace / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the background child outlived the timeout"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and ") Z " in stat.read_text())


CACHED = """
name: cached
steps:
  - id: build
    cache_key: "{{ hash_files('src/*') }}"
    command: |
      echo ran >> runs.log
      mkdir -p dist && cp src/input.txt dist/out.txt
      echo "size=$(wc -c < src/input.txt)" >> "$BATON_OUTPUT"
    outputs: {bundle: dist/out.txt}
"""


def test_a_second_identical_run_restores_from_the_cache(harness: Harness) -> None:
    (harness.workspace / "src").mkdir()
    (harness.workspace / "src" / "input.txt").write_text("abc")
    first = harness.run(CACHED)
    (harness.workspace / "dist" / "out.txt").unlink()
    second = harness.run(CACHED)
    step = harness.document(second)["steps"]["build"]
    assert (step["status"], step["cache_hit"]) == ("cached", True)
    assert step["outputs"]["size"] == harness.document(first)["steps"]["build"]["outputs"]["size"]
    assert (harness.workspace / "dist" / "out.txt").read_text() == "abc", "the declared file is restored"
    assert (harness.workspace / "runs.log").read_text().count("ran") == 1


@pytest.mark.parametrize("change", ["edit-input", "no-cache"], ids=["input-file-changed", "no-cache-flag"])
def test_a_changed_input_file_or_no_cache_is_a_miss(harness: Harness, change: str) -> None:
    (harness.workspace / "src").mkdir()
    (harness.workspace / "src" / "input.txt").write_text("abc")
    harness.run(CACHED)
    if change == "edit-input":
        (harness.workspace / "src" / "input.txt").write_text("abcd")
    second = harness.run(CACHED, no_cache=change == "no-cache")
    assert harness.document(second)["steps"]["build"]["cache_hit"] is False
    assert (harness.workspace / "runs.log").read_text().count("ran") == 2


def test_large_outputs_are_stored_as_artifacts_and_read_back(harness: Harness) -> None:
    size = LARGE_OUTPUT_BYTES + 100
    execution = harness.run(
        """
name: w
steps:
  - id: big
    command: |
      echo "blob=$(head -c SIZE /dev/zero | tr '\\0' x)" >> "$BATON_OUTPUT"
  - id: use
    command: echo "{{ steps.big.outputs.blob | length }}"
""".replace("SIZE", str(size))
    )
    stored = harness.steps(execution)["big"].outputs["blob"]
    assert set(stored) == {"$artifact", "size"}
    assert harness.document(execution)["steps"]["big"]["outputs"]["blob"] == "x" * size
    assert harness.document(execution)["steps"]["use"]["outputs"]["stdout"] == str(size)


def test_secrets_are_masked_in_outputs_errors_and_logs(harness: Harness) -> None:
    execution = harness.run(
        """
name: secret
secrets: {TOKEN: {env: DEMO_TOKEN}}
outputs: {seen: {value: "token={{ secrets.TOKEN }}"}}
steps:
  - id: use
    command: |
      echo "using {{ secrets.TOKEN }}"
      echo "echoed={{ secrets.TOKEN }}" >> "$BATON_OUTPUT"
  - id: fail
    continue_on_error: true
    command: echo "bad {{ secrets.TOKEN }}" >&2; exit 1
"""
    )
    document = harness.document(execution)
    assert "s3cr3t-value" not in repr(document)
    assert document["steps"]["use"]["outputs"]["stdout"] == "using ***"
    assert document["outputs"]["seen"] == "token=***"
    assert document["steps"]["fail"]["error"].endswith("bad ***")
    logs = harness.engine.logs(execution.execution_id)
    assert logs
    assert all("s3cr3t-value" not in entry.text for entry in logs)


def test_for_each_outputs_become_a_list_with_per_item_records(harness: Harness) -> None:
    execution = harness.run(
        """
name: fan
inputs: {xs: {type: array, default: [a, b, c]}}
steps:
  - id: each
    for_each: inputs.xs
    max_concurrency: 2
    command: echo "upper=$(echo {{ item }} | tr a-z A-Z){{ index }}" >> "$BATON_OUTPUT"
  - id: join
    command: echo "{{ steps.each.outputs | map(attribute='upper') | join('-') }}"
"""
    )
    document = harness.document(execution)
    assert [item["item"] for item in document["steps"]["each"]["items"]] == ["a", "b", "c"]
    assert document["steps"]["join"]["outputs"]["stdout"] == "A0-B1-C2"


SAGA = """
name: saga
steps:
  - id: one
    command: echo one >> ledger
    compensate: {command: echo undo-one >> ledger}
  - id: two
    command: echo two >> ledger
    compensate: {command: echo undo-two >> ledger}
  - id: boom
    command: exit 1
on_failure:
  - id: alert
    command: echo alert >> ledger
finally:
  - id: close
    command: echo close >> ledger
"""


def test_a_failure_compensates_in_reverse_order_then_runs_the_hooks(harness: Harness) -> None:
    execution = harness.run(SAGA)
    assert execution.status == "failed"
    ledger = (harness.workspace / "ledger").read_text().split()
    assert ledger == ["one", "two", "undo-two", "undo-one", "alert", "close"]
    statuses = {k: v["status"] for k, v in harness.document(execution)["steps"].items()}
    assert statuses == {
        "one": "compensated",
        "two": "compensated",
        "boom": "failed",
        "alert": "succeeded",
        "close": "succeeded",
    }


def test_resume_reruns_failed_and_compensated_steps(harness: Harness) -> None:
    execution = harness.run(SAGA.replace("command: exit 1", "command: test -f fixed"))
    (harness.workspace / "fixed").touch()
    harness.engine.resume(execution.execution_id)
    resumed = harness.engine.drive(execution.execution_id)
    assert resumed.status == "succeeded"
    ledger = (harness.workspace / "ledger").read_text().split()
    assert ledger[6:] == ["one", "two", "close"], "rolled-back steps run again, then finally"
    assert harness.steps(resumed)["alert"].status == "skipped"


def test_resume_from_reruns_the_step_and_its_dependants_only(harness: Harness) -> None:
    text = "name: chain\nsteps:\n" + "".join(f"  - id: s{i}\n    command: echo s{i} >> ran\n" for i in range(4))
    execution = harness.run(text)
    harness.engine.resume(execution.execution_id, from_step="s2")
    harness.engine.drive(execution.execution_id)
    assert (harness.workspace / "ran").read_text().split() == ["s0", "s1", "s2", "s3", "s2", "s3"]
    with pytest.raises(ResumeError, match="already succeeded"):
        harness.engine.resume(execution.execution_id)


@pytest.mark.parametrize(("approve", "status"), [(True, "succeeded"), (False, "failed")], ids=["approved", "rejected"])
def test_an_approval_waits_then_goes_on_with_the_answer(harness: Harness, approve: bool, status: str) -> None:
    execution = harness.run(
        "name: gate\nsteps:\n  - id: ask\n    type: approval\n    message: ok?\n"
        "  - id: after\n    command: echo '{{ steps.ask.outputs.decision }} by {{ steps.ask.outputs.by }}'\n"
    )
    assert execution.status == "waiting"
    harness.engine.answer(execution.execution_id, "ask", approve=approve, comment="looks fine", by="ann")
    done = harness.engine.drive(execution.execution_id)
    assert done.status == status
    if approve:
        assert harness.document(done)["steps"]["after"]["outputs"]["stdout"] == "approved by ann"


def test_a_wait_is_recorded_as_waiting_until_its_time(harness: Harness) -> None:
    execution = harness.start("name: w\nsteps:\n  - id: pause\n    type: wait\n    duration: 1h\n")
    done = harness.engine.drive(execution.execution_id)
    assert done.status == "succeeded"
    assert sum(harness.clock.slept) >= 3600


def test_cancel_skips_pending_steps_and_still_runs_finally(harness: Harness) -> None:
    execution = harness.run(
        "name: c\nsteps:\n  - id: gate\n    type: approval\n  - id: after\n    command: 'true'\n"
        "finally:\n  - id: tidy\n    command: echo tidy > tidy.txt\n"
    )
    harness.engine.cancel(execution.execution_id)
    done = harness.engine.drive(execution.execution_id)
    statuses = {k: v["status"] for k, v in harness.document(done)["steps"].items()}
    assert done.status == "cancelled"
    assert statuses == {"gate": "cancelled", "after": "cancelled", "tidy": "succeeded"}


def test_when_and_on_false_stop(harness: Harness) -> None:
    execution = harness.run(
        """
name: flow
inputs: {go: {type: boolean, default: false}}
steps:
  - id: maybe
    when: inputs.go
    command: 'true'
  - id: next
    command: echo "{{ steps.maybe.status }}"
  - id: stop
    type: assert
    condition: inputs.go
    on_false: stop
  - id: never
    command: 'true'
"""
    )
    document = harness.document(execution)
    assert execution.status == "succeeded"
    assert document["steps"]["next"]["outputs"]["stdout"] == "skipped"
    assert document["steps"]["never"]["status"] == "skipped"


def test_workflow_outputs_are_converted_to_their_type(harness: Harness) -> None:
    execution = harness.run(
        'name: o\noutputs:\n  n: {value: "{{ steps.a.outputs.n }}", type: integer}\n'
        "steps:\n  - id: a\n    command: echo n=41 >> $BATON_OUTPUT\n"
    )
    assert execution.outputs == {"n": 41}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [({"nope": 1}, "unknown input nope"), ({}, "input who is required"), ({"who": 3}, "expected string")],
    ids=["unknown", "missing-required", "wrong-type"],
)
def test_bad_inputs_are_refused_before_anything_runs(harness: Harness, inputs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        harness.start(
            "name: i\ninputs: {who: {type: string, required: true}}\nsteps:\n  - id: a\n    command: 'true'\n", inputs
        )
    assert harness.store.executions == {}


def test_a_workflow_step_naming_no_file_is_refused_at_load(harness: Harness) -> None:
    with pytest.raises(DefinitionError, match=r"workflow\.yaml:5:15: steps\[0\]\.workflow: no workflow 'child'"):
        harness.start("name: h\nsteps:\n  - id: a\n    type: workflow\n    workflow: child\n")


def test_for_each_items_are_cached_one_by_one(harness: Harness) -> None:
    text = (
        "name: items\nsteps:\n  - id: each\n    for_each: [a, b]\n    use_cache: true\n"
        "    command: echo ran >> runs.log\n"
    )
    harness.run(text)
    second = harness.run(text)
    step = harness.document(second)["steps"]["each"]
    assert (step["status"], step["cache_hit"]) == ("cached", True)
    assert (harness.workspace / "runs.log").read_text().split() == ["ran", "ran"], "one run per item, then none"


def test_a_long_step_runs_here_when_there_is_no_long_step_runner(harness: Harness) -> None:
    # The embedded backend has no LongRunner: `runner: long` changes nothing locally.
    execution = harness.run(
        """
name: long-locally
steps:
  - id: soak
    runner: long
    timeout: 3h
    command: echo soaked
"""
    )
    assert execution.status == "succeeded"
    step = harness.document(execution)["steps"]["soak"]
    assert step["outputs"]["stdout"] == "soaked"
    assert step["attempts"] == 1


def test_a_run_reads_its_definition_and_records_once_before_its_steps(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 10,000-step chain spent 0.1 ms per step reading back, before its first step, what
    # it had just written: the records twice and the definition once more.
    store = harness.store
    reads: list[str] = []
    for name in ("get_steps", "get_definition"):
        real = getattr(store, name)
        monkeypatch.setattr(store, name, lambda *a, _real=real, _name=name: reads.append(_name) or _real(*a))
    execution = harness.start("name: once\nsteps:\n  - {id: a, command: 'true'}\n  - {id: b, command: 'true'}\n")
    reads.clear()
    assert harness.engine.drive(execution.execution_id).status == "succeeded"
    assert reads.count("get_definition") == 0, "the definition the run was started with is used as it is"
    assert reads.count("get_steps") == 1, reads
