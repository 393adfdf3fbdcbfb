"""Small pure parts of the engine: $BATON_OUTPUT parsing, the plain-command fast path, input
conversion, masking, backoff, the compiled definition and resume's choice of records."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import quote

import pytest
import yaml

from baton.engine.definition import Definition, RetrySpec, compile_workflow
from baton.engine.inputs import convert_output, parse_pairs, resolve_inputs
from baton.engine.masking import Masker
from baton.engine.records import StepRecord
from baton.engine.resume import resets_for
from baton.errors import InputError
from baton.spec.models import Workflow
from baton.steps.shell import parse_output_file, simple_argv


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1\nb=x=y\n", {"a": "1", "b": "x=y"}),
        ("empty=\n\n", {"empty": ""}),
        ("notes<<EOF\nline 1\nline=2\nEOF\nafter=3\n", {"notes": "line 1\nline=2", "after": "3"}),
        ("crlf=1\r\n", {"crlf": "1"}),
        ("", {}),
    ],
    ids=["pairs", "empty-value", "heredoc", "crlf", "nothing"],
)
def test_baton_output_lines(text: str, expected: dict[str, str]) -> None:
    assert parse_output_file(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [("no equals sign\n", "expected key=value"), ("block<<END\nnever closed\n", "no line 'END'")],
    ids=["not-a-pair", "open-heredoc"],
)
def test_bad_baton_output_lines_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_output_file(text)


@pytest.mark.parametrize(
    ("script", "direct"),
    [
        ("true", True),
        ("sleep 0.05", True),
        ("ls -l /tmp", True),
        ("echo hi", False),
        ("true; true", False),
        ('echo "$HOME"', False),
        ("ls *.py", False),
        ("FOO=1 env", False),
        ("cd /tmp", False),
        ("./run.sh", False),
        ("no-such-program-anywhere", False),
    ],
    ids=[
        "true",
        "sleep",
        "args",
        "builtin",
        "two-commands",
        "expansion",
        "glob",
        "assignment",
        "cd",
        "relative",
        "unknown",
    ],
)
def test_only_plain_commands_skip_bash(script: str, direct: bool) -> None:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    argv = simple_argv(script, env)
    assert (argv is not None) == direct
    if argv is not None:
        assert argv[1:] == script.split()[1:]


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("integer", "42", 42),
        ("number", "1.5", 1.5),
        ("number", "3", 3),
        ("boolean", "yes", True),
        ("boolean", "false", False),
        ("array", '["a", 1]', ["a", 1]),
        ("object", '{"k": 1}', {"k": 1}),
        ("string", "42", "42"),
    ],
    ids=["integer", "float", "whole-number", "yes", "false", "array", "object", "string-stays"],
)
def test_command_line_inputs_are_converted_to_their_type(kind: str, text: str, value: object) -> None:
    resolved = resolve_inputs({"x": {"type": kind}}, {"x": text}, from_text=frozenset({"x"}))
    assert resolved == {"x": value}


def test_inputs_get_defaults_and_enums_are_checked() -> None:
    specs = {"mode": {"type": "string", "default": "fast", "enum": ["fast", "slow"]}}
    assert resolve_inputs(specs, {}) == {"mode": "fast"}
    with pytest.raises(InputError, match="not one of"):
        resolve_inputs(specs, {"mode": "medium"})
    with pytest.raises(InputError, match="expected NAME=VALUE"):
        parse_pairs(["novalue"])


def test_outputs_are_converted_and_bad_ones_say_so() -> None:
    assert convert_output("n", " 7 ", "integer") == 7
    assert convert_output("o", {"a": 1}, "string") == '{"a": 1}'
    with pytest.raises(InputError, match="output n"):
        convert_output("n", "seven", "integer")


def test_masking_hides_every_secret_in_text_and_data() -> None:
    masker = Masker(["hunter22", "hunter2", "ab"])
    assert masker.text("pw=hunter22 and hunter2") == "pw=*** and ***"
    assert masker.data({"k": ["x hunter2", 3], "hunter2": None}) == {"k": ["x ***", 3], "***": None}
    assert masker.text("ab stays: too short to mask") == "ab stays: too short to mask"
    assert not Masker([])


def test_backoff_grows_and_is_capped() -> None:
    retry = RetrySpec(max_attempts=5, initial_seconds=1, multiplier=3, max_seconds=5)
    assert [retry.delay_before(n) for n in (2, 3, 4)] == [1, 3, 5]


def test_the_compiled_definition_round_trips_through_json() -> None:
    workflow = Workflow.model_validate(
        yaml.safe_load(
            """
name: full
defaults: {timeout: 10m, retry: {max_attempts: 2, backoff: {initial: 2s}}}
steps:
  - id: a
    command: echo hi
    cache: {key: "k", ttl: 7d}
    outputs: {f: out.txt}
    compensate: {command: undo, retry: {max_attempts: 3}}
  - id: gate
    type: approval
  - id: b
    type: claude_code
    prompt: hi
finally:
  - id: z
    argv: [echo, "{{ steps.a.outputs.f }}"]
"""
        )
    )
    definition = compile_workflow(workflow)
    assert Definition.from_data(json.loads(json.dumps(definition.to_data()))) == definition
    a = definition.step("a")
    assert (a.body.timeout_seconds, a.body.retry.max_attempts, a.cache_ttl_seconds) == (600, 2, 7 * 86400)
    assert a.compensate is not None
    assert a.compensate.retry.max_attempts == 3
    assert definition.step("gate").body.timeout_seconds is None, "approvals ignore defaults.timeout"
    assert definition.step("b").type == "agent"
    assert definition.step("z").needs == ()
    assert definition.step("z").templated


def test_resume_picks_what_did_not_succeed_plus_the_hooks() -> None:
    definition = Definition(
        name="r",
        steps=compile_workflow(
            Workflow.model_validate(
                yaml.safe_load(
                    "name: r\nsteps:\n  - {id: a, command: x}\n  - {id: b, command: x, when: 'false'}\n"
                    "  - {id: c, command: x}\n  - {id: d, command: x}\nfinally:\n  - {id: z, command: x}\n"
                )
            )
        ).steps,
    )
    records = {
        "a": StepRecord("e", "a", "a", status="succeeded"),
        "b": StepRecord("e", "b", "b", status="skipped", reason="when"),
        "c": StepRecord("e", "c", "c", status="failed", attempt=1),
        "d": StepRecord("e", "d", "d", status="skipped", reason="upstream_failed"),
        "z": StepRecord("e", "z", "z", status="succeeded", attempt=1),
    }
    assert sorted(r.key for r in resets_for(definition, records)) == ["c", "d", "z"]
    assert sorted(r.key for r in resets_for(definition, records, "a")) == ["a", "b", "c", "d", "z"]
    assert all(r.status == "pending" and r.attempt == records[r.key].attempt for r in resets_for(definition, records))


@pytest.mark.parametrize(
    "shown",
    [
        lambda s: f"got {s!r}",
        lambda s: json.dumps({"error": s}),
        lambda s: f"list {[s]}",
        lambda s: "https://x/?q=" + quote(s, safe=""),
    ],
    ids=["repr", "json", "repr-in-a-list", "url-encoded"],
)
def test_masking_covers_escaped_forms_of_a_secret(shown: Callable[[str], str]) -> None:
    secret = 'pa\'ss\nw\\rd "é"'
    masker = Masker([secret])

    text = masker.text(shown(secret))

    assert "pa" not in text.replace("***", ""), text
    assert "***" in text


def test_the_stored_definition_carries_the_environment_names_its_templates_read() -> None:
    text = (
        "name: e\nenv: {SET: x}\n"
        "steps:\n  - {id: a, command: 'echo {{ env.HOME }} {{ env[\"USER\"] }} {{ env.SET }}'}\n"
    )
    definition = compile_workflow(Workflow.model_validate(yaml.safe_load(text)))
    data = json.loads(json.dumps(definition.to_data()))
    assert data["env_names"] == ["HOME", "USER"]
    stored = Definition.from_data(data)
    assert stored.environment_names() == ("HOME", "USER")
    older = {key: value for key, value in data.items() if key != "env_names"}
    assert Definition.from_data(older).environment_names() == ("HOME", "USER"), "a copy stored without them"


def test_a_record_evolves_into_a_copy_with_the_changes_and_refuses_an_unknown_field() -> None:
    from dataclasses import fields, replace
    from datetime import UTC, datetime

    record = StepRecord("e1", "a[1]", "a", index=1, item={"x": 1}, artifacts={"f": {}}, attempt=2)
    changes = {"status": "succeeded", "outputs": {"n": 1}, "finished_at": datetime(2026, 1, 1, tzinfo=UTC)}
    evolved = record.evolve(**changes)
    assert evolved == replace(record, **changes)
    assert [getattr(evolved, f.name) for f in fields(StepRecord)] == [
        changes.get(f.name, getattr(record, f.name)) for f in fields(StepRecord)
    ]
    assert record.status == "pending", "the original is unchanged"
    with pytest.raises(TypeError, match="no field 'bogus'"):
        record.evolve(bogus=1)
