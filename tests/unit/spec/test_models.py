"""The language models: what they accept, what they refuse, and how they normalise."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from baton.spec.durations import format_duration, parse_duration
from baton.spec.models import Workflow
from baton.spec.steps import (
    AgentStep,
    ApprovalStep,
    AssertStep,
    HttpStep,
    ShellBody,
    ShellStep,
    WaitStep,
)


def workflow(*steps: dict[str, Any], **extra: Any) -> Workflow:
    return Workflow.model_validate({"name": "w", "steps": list(steps), **extra})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("10m", 600),
        ("1h", 3600),
        ("1h30m", 5400),
        ("7d", 604800),
        ("250ms", 0.25),
        (12, 12),
        ("1.5h", 5400),
    ],
    ids=["seconds", "minutes", "hours", "compound", "days", "millis", "number", "fraction"],
)
def test_durations_parse(text: Any, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["10", "ten minutes", "5x", "", "-1s", True],
    ids=["no-unit", "words", "bad-unit", "empty", "negative", "bool"],
)
def test_durations_refuse(text: Any) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration_round_trips() -> None:
    assert format_duration(3723) == "1h2m3s"
    assert parse_duration(format_duration(3723)) == 3723


@pytest.mark.parametrize(
    ("body", "model"),
    [
        ({"command": "echo"}, ShellStep),
        ({"argv": ["echo", "x"]}, ShellStep),
        ({"condition": "true"}, AssertStep),
        ({"prompt": "do it"}, AgentStep),
        ({"type": "claude_code", "prompt": "do it"}, AgentStep),
        ({"url": "https://example.com"}, HttpStep),
        ({"duration": "5s"}, WaitStep),
        ({"type": "approval"}, ApprovalStep),
    ],
    ids=[
        "shell-command",
        "shell-argv",
        "assert",
        "agent",
        "claude-code-alias",
        "http",
        "wait",
        "approval",
    ],
)
def test_step_type_is_chosen_or_inferred(body: dict[str, Any], model: type) -> None:
    parsed = workflow({"id": "s", **body}).steps[0]
    assert type(parsed) is model


def test_claude_code_is_an_agent_step() -> None:
    step = workflow({"id": "a", "type": "claude_code", "prompt": "p"}).steps[0]
    assert isinstance(step, AgentStep)
    assert step.security_profile == "restricted"


def test_compensation_body_has_no_flow_keys() -> None:
    step = workflow({"id": "a", "command": "x", "compensate": {"command": "undo"}}).steps[0]
    assert isinstance(step.compensate, ShellBody)
    with pytest.raises(ValidationError, match="needs"):
        workflow({"id": "a", "command": "x", "compensate": {"command": "undo", "needs": []}})


@pytest.mark.parametrize(
    "step",
    [
        {"id": "a", "command": "x", "argv": ["y"]},
        {"id": "a", "type": "shell"},
        {"id": "a", "type": "wait"},
        {"id": "a", "type": "wait", "duration": "1s", "until": "2030-01-01T00:00:00Z"},
        {"id": "a", "url": "u", "json": {}, "body": "b"},
        {"id": "A", "command": "x"},
        {"id": "a", "command": "x", "retry": {"max_attempts": 0}},
        {"id": "a", "command": "x", "timeout": "soon"},
        {"id": "a", "command": "x", "for_each": None},
    ],
    ids=[
        "command-and-argv",
        "shell-without-body",
        "wait-without-bound",
        "wait-two-bounds",
        "json-and-body",
        "uppercase-id",
        "zero-attempts",
        "bad-timeout",
        "empty-for-each",
    ],
)
def test_invalid_steps_are_refused(step: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        workflow(step)


def test_needs_accepts_a_single_string() -> None:
    steps = workflow({"id": "a", "command": "x"}, {"id": "b", "command": "y", "needs": "a"}).steps
    assert steps[1].needs == ["a"]


def test_scalars_meant_as_text_stay_text() -> None:
    parsed = workflow({"id": "a", "command": "x", "env": {"N": 1, "B": True}}, version=1.0)
    assert parsed.version == "1.0"
    assert parsed.steps[0].env == {"N": "1", "B": "true"}


@pytest.mark.parametrize(
    ("inputs", "ok"),
    [
        ({"n": {"type": "number", "default": 3}}, True),
        ({"n": {"type": "number", "default": "three"}}, False),
        ({"n": {"type": "integer", "default": True}}, False),
        ({"n": {"type": "string", "required": True, "default": "x"}}, False),
    ],
    ids=["typed-default", "wrong-default", "bool-is-not-integer", "required-with-default"],
)
def test_input_defaults_must_match_their_type(inputs: dict[str, Any], ok: bool) -> None:
    build = lambda: workflow({"id": "a", "command": "x"}, inputs=inputs)  # noqa: E731
    if ok:
        assert build().inputs["n"].default == 3
    else:
        with pytest.raises(ValidationError):
            build()


@pytest.mark.parametrize(
    ("trigger", "ok"),
    [
        ({"schedule": "cron(0 3 * * ? *)"}, True),
        ({"schedule": "rate(5 minutes)"}, True),
        ({"schedule": "every day"}, False),
        ({"event": {"source": "ci", "detail-type": ["Done"]}}, True),
        ({"s3": {"bucket": "my-bucket", "prefix": "in/"}}, True),
        ({"s3": {"bucket": "b"}, "schedule": "rate(1 day)"}, False),
    ],
    ids=["cron", "rate", "prose", "event", "s3", "two-kinds"],
)
def test_triggers(trigger: dict[str, Any], ok: bool) -> None:
    build = lambda: workflow({"id": "a", "command": "x"}, triggers=[trigger])  # noqa: E731
    if ok:
        assert len(build().triggers) == 1
    else:
        with pytest.raises(ValidationError):
            build()


def test_secrets_need_exactly_one_source() -> None:
    assert workflow({"id": "a", "command": "x"}, secrets={"T": {"env": "HOME"}}).secrets["T"].env == "HOME"
    with pytest.raises(ValidationError, match="exactly one source"):
        workflow({"id": "a", "command": "x"}, secrets={"T": {"env": "HOME", "ssm": "/x"}})


def test_workflow_needs_a_step() -> None:
    with pytest.raises(ValidationError, match="steps"):
        Workflow.model_validate({"name": "w", "steps": []})


def test_step_lookup_spans_every_list() -> None:
    parsed = workflow(
        {"id": "a", "command": "x"},
        on_failure=[{"id": "b", "command": "y"}],
        **{"finally": [{"id": "c", "command": "z"}]},
    )
    assert [s.id for s in parsed.all_steps()] == ["a", "b", "c"]
    assert parsed.step("c").id == "c"
    with pytest.raises(KeyError):
        parsed.step("nope")


def test_pydantic_takes_only_get_plugins_from_the_plugin_loader_baton_stands_in_for() -> None:
    """``baton.spec.base`` puts a plugin loader that finds no plugins in pydantic's place (see its
    docstring); a pydantic that imports anything else from that module must fail here."""
    import ast
    import importlib
    from pathlib import Path

    import pydantic

    taken = set()
    for source in Path(pydantic.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("_loader"):
                taken |= {alias.name for alias in node.names}
    assert taken == {"get_plugins"}
    importlib.import_module("baton.spec.base")
    assert list(importlib.import_module("pydantic.plugin._loader").get_plugins()) == []
