"""Semantic checks that the schema cannot express, run on the raw data so that they still
report when the schema found problems too: unique ids, known ``needs``, no cycles, and
templates that parse and only name inputs, steps, outputs and secrets that exist.
"""

from __future__ import annotations

import difflib
from collections.abc import Container, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from baton.errors import ExpressionError
from baton.spec.graph import find_cycle
from baton.spec.source import PathKey
from baton.spec.steps import step_type_of
from baton.spec.workflow_refs import WorkflowRefError, parse_reference

if TYPE_CHECKING:
    from baton.expr import ExpressionEngine, Reference

STEP_LISTS = ("steps", "on_failure", "finally")
_BARE_KEYS = {"when", "condition", "for_each"}
_PLAIN_KEYS = {
    "id", "type", "name", "needs", "model", "provider", "security_profile", "allowed_commands",
    "service", "action", "region", "method", "workflow", "version", "on_false", "max_concurrency",
    "timeout", "retry", "continue_on_error", "use_cache", "max_tokens", "max_turns", "budget", "expect_status",
    "duration",
}  # fmt: skip
_STEP_ATTRIBUTES = (
    "outputs",
    "status",
    "error",
    "attempts",
    "cache_hit",
    "items",
    "started_at",
    "finished_at",
)
_EXECUTION_ATTRIBUTES = ("id", "started_at", "workflow")
_ALWAYS_ROOTS = ("inputs", "steps", "env", "secrets", "execution", "trigger", "workflow")
_RESERVED = {*_ALWAYS_ROOTS, "item", "index"}
# Outputs each type always sets; None means open (a shell step adds any $BATON_OUTPUT key).
_KNOWN_OUTPUTS: dict[str, tuple[str, ...] | None] = {
    "shell": None,
    "assert": (),
    "agent": ("text", "files_changed", "turns", "usage", "cost_usd", "denied", "provider", "model"),
    "http": ("status", "headers", "json", "body"),
    "aws": ("response",),
    "wait": (),
    "approval": ("decision", "comment", "by"),
    "workflow": None,
}

Problem = tuple[PathKey, str]


@dataclass(frozen=True)
class _StepInfo:
    list_name: str
    index: int
    raw: dict[str, Any]
    needs: list[str]


def check_document(data: dict[str, Any], engine: ExpressionEngine | None = None) -> list[Problem]:
    """Every semantic problem of a workflow document, as (YAML path, message)."""
    engines = _Engines(engine)
    problems: list[Problem] = []
    steps = _collect_steps(data, problems)
    for list_name in STEP_LISTS:
        problems += _check_needs(list_name, [s for s in steps.values() if s.list_name == list_name], steps)
    for info in steps.values():
        problems += _check_step_templates(data, info, steps, engines)
    problems += _check_workflow_templates(data, steps, engines)
    problems += _check_workflow_references(steps, data.get("name"))
    return problems


class _Engines:
    """The expression engine, made (and Jinja2 imported) only when a text needs parsing: a
    file without templates or expressions is checked without it."""

    def __init__(self, engine: ExpressionEngine | None) -> None:
        self._engine = engine

    def get(self) -> ExpressionEngine:
        if self._engine is None:
            from baton.expr import ExpressionEngine

            self._engine = ExpressionEngine()
        return self._engine


def _check_workflow_references(steps: dict[str, _StepInfo], name: Any) -> list[Problem]:
    """A ``workflow:`` step names a workflow, a pinned one, or a file."""
    problems: list[Problem] = []
    for info in steps.values():
        reference, version = info.raw.get("workflow"), info.raw.get("version")
        if step_type_of(info.raw) != "workflow" or not isinstance(reference, str):
            continue
        try:
            ref = parse_reference(reference, version if isinstance(version, str) else None)
        except WorkflowRefError as exc:
            problems.append(((info.list_name, info.index, "workflow"), str(exc)))
            continue
        if ref.name is not None and ref.name == name and not ref.pinned:
            problems.append(((info.list_name, info.index, "workflow"), f"workflow {name!r} calls itself"))
    return problems


def _collect_steps(data: dict[str, Any], problems: list[Problem]) -> dict[str, _StepInfo]:
    steps: dict[str, _StepInfo] = {}
    first_seen: dict[str, PathKey] = {}
    for list_name in STEP_LISTS:
        raw_list = data.get(list_name)
        if not isinstance(raw_list, list):
            continue
        previous: str | None = None
        for index, raw in enumerate(raw_list):
            step_id = raw.get("id") if isinstance(raw, dict) else None
            if not isinstance(step_id, str):
                continue
            path: PathKey = (list_name, index, "id")
            if step_id in _RESERVED:
                problems.append((path, f"step id '{step_id}' is a reserved name in expressions; choose another"))
                continue
            if step_id in steps:
                where = _describe(first_seen[step_id])
                problems.append(
                    (
                        path,
                        f"duplicate step id '{step_id}' (already used by {where}); ids must be unique in the file",
                    )
                )
                continue
            needs = raw.get("needs")
            if isinstance(needs, str):
                needs = [needs]
            if not isinstance(needs, list):
                needs = [previous] if previous else []
            steps[step_id] = _StepInfo(list_name, index, raw, [n for n in needs if isinstance(n, str)])
            first_seen[step_id] = path
            previous = step_id
    return steps


def _describe(path: PathKey) -> str:
    return f"{path[0]}[{path[1]}]"


def _check_needs(list_name: str, infos: list[_StepInfo], steps: dict[str, _StepInfo]) -> list[Problem]:
    problems: list[Problem] = []
    local = {step_id for step_id, info in steps.items() if info.list_name == list_name}
    graph: dict[str, list[str]] = {}
    for info in infos:
        step_id = info.raw["id"]
        graph[step_id] = [n for n in info.needs if n in local]
        raw_needs = info.raw.get("needs")
        if not isinstance(raw_needs, list):
            continue
        for position, need in enumerate(raw_needs):
            path: PathKey = (list_name, info.index, "needs", position)
            if need == step_id:
                problems.append((path, f"step '{step_id}' cannot need itself"))
            elif need in steps and need not in local:
                problems.append(
                    (
                        path,
                        f"'{need}' is in {steps[need].list_name}; "
                        f"needs may only name steps of the same list ({list_name})",
                    )
                )
            elif need not in steps:
                problems.append((path, f"unknown step '{need}' in needs{_suggest(need, local)}"))
    cycle = find_cycle(graph)
    if cycle:
        first = steps[cycle[0]]
        problems.append(
            (
                (list_name, first.index, "needs"),
                f"dependency cycle: {' -> '.join(cycle)} (each step needs the next)",
            )
        )
    return problems


@dataclass(frozen=True)
class _Ancestors:
    """The steps one step transitively waits for (on_failure/finally also wait for all of
    steps), answered one question at a time: holding every step's set at once would be
    quadratic in a long chain."""

    steps: dict[str, _StepInfo]
    step_id: str

    def __contains__(self, other: object) -> bool:
        steps = self.steps
        if steps[self.step_id].list_name != "steps" and other in steps and steps[str(other)].list_name == "steps":
            return True
        seen, stack = {self.step_id}, [self.step_id]
        while stack:
            for need in steps[stack.pop()].needs:
                if need == other:
                    return True
                if need in steps and need not in seen:
                    seen.add(need)
                    stack.append(need)
        return False


def _check_step_templates(
    data: dict[str, Any],
    info: _StepInfo,
    steps: dict[str, _StepInfo],
    engine: _Engines,
) -> list[Problem]:
    problems: list[Problem] = []
    base: PathKey = (info.list_name, info.index)
    step_id = info.raw["id"]
    in_loop = info.raw.get("for_each") is not None
    for path, text, bare in _template_strings(info.raw, base):
        loop_names = in_loop and path[len(base)] != "for_each"
        scope = _Scope(data, steps, reachable=_Ancestors(steps, step_id), loop=loop_names, owner=step_id)
        problems += _check_text(path, text, bare, scope, engine, shell=path[-1] == "command")
    if info.raw.get("max_concurrency") is not None and not in_loop:
        problems.append(((*base, "max_concurrency"), "max_concurrency only applies to a step with for_each"))
    return problems


def _check_workflow_templates(data: dict[str, Any], steps: dict[str, _StepInfo], engine: _Engines) -> list[Problem]:
    problems: list[Problem] = []
    everything = set(steps)
    outputs = data.get("outputs")
    if isinstance(outputs, dict):
        for name, spec in outputs.items():
            if not isinstance(spec, dict):
                continue
            if isinstance(spec.get("value"), str):
                scope = _Scope(data, steps, reachable=everything, loop=False, owner=None)
                problems += _check_text(("outputs", name, "value"), spec["value"], False, scope, engine)
            source = spec.get("from")
            if isinstance(source, str) and "." in source and source.split(".", 1)[0] not in steps:
                step = source.split(".", 1)[0]
                problems.append(
                    (
                        ("outputs", name, "from"),
                        f"unknown step '{step}' in from{_suggest(step, everything)}",
                    )
                )
    concurrency = data.get("concurrency")
    if isinstance(concurrency, dict) and isinstance(concurrency.get("key"), str):
        scope = _Scope(data, steps, reachable=set(), loop=False, owner=None)
        problems += _check_text(("concurrency", "key"), concurrency["key"], False, scope, engine)
    return problems


def _template_strings(raw: Any, path: PathKey, bare: bool = False) -> Iterator[tuple[PathKey, str | bool, bool]]:
    """Every string of a step that is a template or an expression, with its path."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key == "compensate":
                yield from _template_strings(value, (*path, key))
            elif key in _BARE_KEYS:
                if isinstance(value, str):
                    yield (*path, key), value, True
            elif key not in _PLAIN_KEYS:
                yield from _template_strings(value, (*path, key))
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            yield from _template_strings(item, (*path, index))
    elif isinstance(raw, str) and ("{{" in raw or "{%" in raw or bare):
        yield path, raw, bare


@dataclass(frozen=True)
class _Scope:
    data: dict[str, Any]
    steps: dict[str, _StepInfo]
    reachable: Container[str]
    loop: bool
    owner: str | None

    def names(self) -> list[str]:
        roots = [*_ALWAYS_ROOTS, *self.steps]
        return [*roots, "item", "index"] if self.loop else roots


def _check_text(
    path: PathKey, text: str | bool, bare: bool, scope: _Scope, engines: _Engines, *, shell: bool = False
) -> list[Problem]:
    if isinstance(text, bool):
        return []
    if shell:
        from baton.expr import shell_references, shell_template_problems

        # A shell script is not a Jinja template as a whole (``${#x}`` opens a Jinja comment).
        # Every template is checked on its own, so one that does not parse hides no other.
        problems: list[Problem] = [(path, problem) for problem in shell_template_problems(text)]
        references = shell_references(text)
    else:
        engine = engines.get()
        try:
            engine.check(text, bare=bare)
            references = engine.references(text, bare=bare)
        except ExpressionError as exc:
            return [(path, str(exc))]
        problems = []
    for reference in references:
        message = _check_reference(reference, scope)
        if message:
            problems.append((path, message))
    return problems


def _check_reference(reference: Reference, scope: _Scope) -> str | None:
    root, rest = reference.root, reference.path
    if root in ("item", "index"):
        return None if scope.loop else f"'{root}' is only defined in a step with for_each"
    if root == "inputs":
        return _check_member("input", rest, _keys(scope.data.get("inputs")))
    if root == "secrets":
        return _check_member("secret", rest, _keys(scope.data.get("secrets")))
    if root == "execution":
        return _check_member("execution attribute", rest, list(_EXECUTION_ATTRIBUTES))
    if root in ("env", "trigger", "workflow"):
        return None
    if root == "steps":
        if not rest:
            return None
        return _check_step_reference(str(rest[0]), rest[1:], scope)
    if root in scope.steps:
        return _check_step_reference(root, rest, scope)
    loop = ", item, index" if scope.loop else ""
    expected = f"inputs, steps, a step id, env, secrets, execution, trigger{loop}"
    return f"unknown name '{root}'{_suggest(root, scope.names())} (expected {expected})"


def _check_step_reference(step_id: str, rest: tuple[str | int, ...], scope: _Scope) -> str | None:
    if step_id not in scope.steps:
        return f"unknown step '{step_id}'{_suggest(step_id, list(scope.steps))}"
    if step_id == scope.owner:
        return f"step '{step_id}' cannot read its own results"
    if step_id not in scope.reachable:
        return f"step '{scope.owner}' reads step '{step_id}' but does not run after it; add '{step_id}' to its needs"
    if not rest:
        return None
    attribute = rest[0]
    if attribute not in _STEP_ATTRIBUTES:
        hint = _suggest(str(attribute), list(_STEP_ATTRIBUTES))
        expected = ", ".join(_STEP_ATTRIBUTES)
        return f"unknown step attribute '{attribute}' of '{step_id}'{hint} (expected one of: {expected})"
    if attribute != "outputs" or len(rest) < 2:
        return None
    raw = scope.steps[step_id].raw
    known = _KNOWN_OUTPUTS.get(step_type_of(raw) or "")
    if known is None:
        return None
    declared = [*known, *_keys(raw.get("outputs"))]
    name = str(rest[1])
    if name in declared:
        return None
    listed = ", ".join(declared) or "none"
    return f"step '{step_id}' has no output '{name}'{_suggest(name, declared)} (its outputs: {listed})"


def _check_member(kind: str, rest: tuple[str | int, ...], known: list[str]) -> str | None:
    if not rest or rest[0] in known:
        return None
    name = str(rest[0])
    listed = ", ".join(known) or "none declared"
    return f"unknown {kind} '{name}'{_suggest(name, known)} (declared: {listed})"


def _keys(value: Any) -> list[str]:
    return [str(k) for k in value] if isinstance(value, dict) else []


def _suggest(name: str, candidates: Any) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""
