"""The loader: YAML safety limits, positions, error collection, and what it accepts."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from baton.errors import DefinitionError
from baton.spec.loader import load_workflow, load_workflow_text
from baton.spec.source import MAX_FILE_BYTES, read_yaml

MINIMAL = "name: w\nsteps:\n  - id: a\n    command: echo hi\n"


def errors_of(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        load_workflow_text(text, "wf.yaml")
    return [str(d) for d in caught.value.diagnostics]


def test_minimal_workflow_loads() -> None:
    workflow = load_workflow_text(MINIMAL)
    assert workflow.name == "w"
    assert workflow.steps[0].id == "a"


def test_yaml_11_booleans_stay_keys_and_strings() -> None:
    text = MINIMAL + "    retry: {max_attempts: 2, on: [error]}\n    env: {FLAG: yes, DAY: 2026-01-01}\n"
    step = load_workflow_text(text).steps[0]
    assert step.retry is not None
    assert step.retry.on == ["error"]
    assert step.env == {"FLAG": "yes", "DAY": "2026-01-01"}


def test_merge_keys_are_supported() -> None:
    text = "name: w\nx-defaults: &d {timeout: 5s}\nsteps:\n  - id: a\n    <<: *d\n    command: make\n"
    errors = errors_of(text)  # x-defaults is not a workflow key, but the merge itself works
    assert any("unknown key 'x-defaults'" in e for e in errors)
    text = "name: w\nsteps:\n  - &base {id: a, command: make, timeout: 5s}\n  - <<: *base\n    id: b\n"
    workflow = load_workflow_text(text)
    assert workflow.steps[1].timeout == 5
    assert workflow.steps[1].id == "b"


def test_all_errors_are_reported_not_only_the_first() -> None:
    text = (
        "name: w\nsteps:\n  - id: a\n    type: shel\n  - id: b\n    command: x\n    timeout: never\n"
        "  - id: c\n    needs: [zz]\n    command: y\n"
    )
    errors = errors_of(text)
    assert len(errors) == 3
    assert errors[0].startswith("wf.yaml:4:11: steps[0].type: unknown step type 'shel'")
    assert errors[1].startswith("wf.yaml:7:14: steps[1].timeout: invalid duration 'never'")
    assert errors[2].startswith("wf.yaml:9:13: steps[2].needs[0]: unknown step 'zz'")


def test_semantic_errors_are_reported_beside_schema_errors() -> None:
    text = "name: w\nsteps:\n  - id: a\n    command: x\n    timeout: never\n  - id: a\n    command: y\n"
    errors = errors_of(text)
    assert any("invalid duration" in e for e in errors)
    assert any("duplicate step id 'a'" in e for e in errors)


def test_billion_laughs_fails_fast() -> None:
    lines = ["a0: &a0 [" + ",".join(["lol"] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 12)]
    body = "\n".join(lines) + "\n"
    padding = "#" + "x" * 78 + "\n"
    text = body + padding * ((MAX_FILE_BYTES - len(body) - 100) // len(padding))
    assert len(text) > MAX_FILE_BYTES * 0.99
    started = time.perf_counter()
    errors = errors_of(text)
    assert time.perf_counter() - started < 1.0
    assert "YAML bomb" in errors[0]


def test_a_megabyte_of_nested_aliases_fails_fast() -> None:
    # Many anchors, each nesting the previous twice: expansion doubles per level.
    lines = ["n0: &n0 {v: 1}"] + [f"n{i}: &n{i} {{l: *n{i - 1}, r: *n{i - 1}}}" for i in range(1, 40000)]
    text = "\n".join(lines)[: MAX_FILE_BYTES - 10]
    text = text[: text.rfind("\n")] + "\n"
    started = time.perf_counter()
    errors = errors_of(text)
    assert time.perf_counter() - started < 1.0
    assert "YAML bomb" in errors[0]


def test_recursive_alias_is_refused() -> None:
    assert "recursive alias" in errors_of("name: w\nsteps: &s [*s]\n")[0]


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(MINIMAL + "#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(DefinitionError, match="at most 1048576"):
        load_workflow(path)


def test_non_utf8_file_names_the_place(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: w\nsteps:\n  - id: a\n    command: echo \xe9\n")
    with pytest.raises(DefinitionError) as caught:
        load_workflow(path)
    assert str(caught.value.diagnostics[0]).startswith(f"{path}:4:19: the file is not UTF-8")


def test_missing_file_is_a_definition_error(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="cannot read"):
        load_workflow(tmp_path / "absent.yaml")


def test_positions_are_one_based() -> None:
    document = read_yaml("a:\n  b: [1, 2]\n")
    assert document.values[("a", "b", 1)].line == 2
    assert document.values[("a", "b", 1)].column == 10
    assert document.keys[("a", "b")].column == 3


def test_byte_order_mark_is_ignored() -> None:
    assert load_workflow_text("\ufeff" + MINIMAL).name == "w"


def test_shell_commands_are_checked_as_shell_not_as_jinja() -> None:
    text = (
        "name: w\ninputs:\n  x: {type: string}\nsteps:\n"
        '  - id: a\n    command: arr=(1 2); echo "${#arr[@]} {{ inputs.x }}"\n'
    )
    assert load_workflow_text(text).steps[0].id == "a"
    bad = text.replace("inputs.x", "inputs.y")
    assert "unknown input 'y'" in errors_of(bad)[0]


_TRIGGER = "name: w\ntriggers:\n  - {trigger}\nsteps:\n  - id: a\n    command: 'true'\n"


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ("schedule: cron(99 99 * * ? *)", "Invalid minute value '99'"),
        ("schedule: cron(0 3 * * * *)", "One must be a question mark"),
        ("schedule: cron(0 3 * * ?)", "6 fields"),
        ("schedule: rate(1 minutes)", "must be rate(1 minute)"),
        ("schedule: rate(5 minute)", "must be rate(5 minutes)"),
        ("schedule: rate(0 hours)", "at least 1"),
        ("schedule: at(2026-02-30T00:00:00)", "at()"),
        ("{schedule: cron(0 3 * * ? *), timezone: Mars/Olympus}", "unknown time zone 'Mars/Olympus'"),
    ],
    ids=[
        "cron-range",
        "cron-two-day-fields",
        "cron-five-fields",
        "rate-plural",
        "rate-singular",
        "rate-zero",
        "at-no-such-day",
        "timezone",
    ],
)
def test_schedules_are_parsed_as_aws_reads_them(trigger: str, message: str) -> None:
    errors = errors_of(_TRIGGER.format(trigger=trigger))

    assert any(message in error and error.startswith("wf.yaml:3:") for error in errors), errors


@pytest.mark.parametrize(
    "trigger",
    [
        "schedule: cron(0/5 8-17 ? * MON-FRI *)",
        "schedule: cron(15 10 ? * 6L 2030)",
        "schedule: rate(1 hour)",
        "{schedule: cron(0 3 * * ? *), timezone: Europe/Paris}",
        "schedule: at(2030-01-01T00:00:00)",
    ],
    ids=["cron-ranges", "cron-last-friday", "rate-one", "timezone", "at"],
)
def test_valid_schedules_load(trigger: str) -> None:
    load_workflow_text(_TRIGGER.format(trigger=trigger))


def test_an_input_default_outside_its_enum_is_refused() -> None:
    errors = errors_of("name: w\ninputs:\n  e: {type: string, enum: [a, b], default: c}\n" + MINIMAL[8:])

    assert any("wf.yaml:3:" in e and "not one of the enum values" in e for e in errors), errors


@pytest.mark.parametrize(
    ("step", "hint"),
    [
        ("  - id: a\n    run: make\n", "did you mean 'command'?"),
        ("  - id: a\n    command: make\n    if: 'true'\n", "did you mean 'when'?"),
        ("  - id: a\n    command: make\n    depends_on: [b]\n", "did you mean 'needs'?"),
    ],
    ids=["run", "if", "depends_on"],
)
def test_github_actions_habits_get_a_hint(step: str, hint: str) -> None:
    errors = errors_of("name: w\nsteps:\n" + step)

    assert any(hint in error for error in errors), errors


def test_a_problem_inside_a_command_block_points_at_its_line() -> None:
    text = "name: w\nsteps:\n  - id: a\n    command: |\n      echo one\n      echo two\n      eval {{ env.X }}\n"

    errors = errors_of(text)

    assert any(error.startswith("wf.yaml:7:7:") and "eval" in error for error in errors), errors


def test_an_unclosed_flow_sequence_is_reported_where_it_opens() -> None:
    errors = errors_of("name: w\nsteps: [\n  {id: a, command: 'true'}\n\nfoo: 1\n")

    assert errors[0].startswith("wf.yaml:2:8:"), errors
    assert "never closed" in errors[0]


def test_a_template_syntax_error_hides_no_other_error_of_the_field() -> None:
    errors = errors_of("name: w\nsteps:\n  - id: a\n    command: 'echo {{ nope.x }} {{ 1 + }}'\n")

    assert any("unknown name 'nope'" in e for e in errors), errors
    assert any("invalid template '{{ 1 + }}'" in e for e in errors), errors


_BUILT_MODELS = """
import sys
from pydantic._internal import _generate_schema
built = []
model_schema = _generate_schema.GenerateSchema._model_schema
def counted(self, cls):
    built.append(cls.__name__)
    return model_schema(self, cls)
_generate_schema.GenerateSchema._model_schema = counted
from baton.spec.loader import load_workflow_text
load_workflow_text(sys.argv[1])
print(" ".join(sorted(set(built))))
"""


@pytest.mark.parametrize(
    ("text", "built", "not_built"),
    [
        ("name: s\nsteps:\n  - {id: a, command: 'true'}\n", {"ShellStep"}, {"AgentStep", "HttpStep", "ShellBody"}),
        (
            "name: s\nsteps:\n  - {id: a, command: 'true', compensate: {type: http, url: 'http://127.0.0.1/'}}\n"
            "  - {id: b, type: wait, duration: 1s}\n",
            {"ShellStep", "WaitStep", "HttpBody"},
            {"AgentStep", "ShellBody", "HttpStep"},
        ),
    ],
)
def test_a_file_builds_the_validators_of_the_step_types_it_uses_only(
    text: str, built: set[str], not_built: set[str]
) -> None:
    # A first run validates the file in a new process: building every type's validator
    # was most of that validation's time.
    done = subprocess.run([sys.executable, "-c", _BUILT_MODELS, text], capture_output=True, text=True, check=True)
    models = set(done.stdout.split())
    assert built <= models
    assert not (not_built & models), sorted(not_built & models)
