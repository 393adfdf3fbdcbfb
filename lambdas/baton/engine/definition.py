"""The compiled definition: what the engine needs of a workflow, as plain JSON-ready data.

Validating YAML with the pydantic models costs 0.15-0.2 s of imports and model building
(pydantic, the language's models, the YAML reader; Jinja2 too when the file has templates);
the engine compiles a validated ``Workflow`` once into these small dataclasses, stores them
under the digest of the source text, and later runs of the same file (and every resume)
start from the stored copy without importing the models at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from baton.expr.markers import has_template

if TYPE_CHECKING:
    from baton.spec.models import Workflow
    from baton.spec.steps import AnyStep, RetryPolicy

DEFINITION_FORMAT = 3
"""Bumped whenever the compiled form changes, so stale stored copies are not reused."""
_READABLE_FORMATS = (1, 2, 3)
"""Format 1 lacks ``concurrency``, format 2 a step's ``runner``; executions started before
them still run (every step on the worker)."""

STEP_LISTS = ("steps", "on_failure", "finally")

_ENV_REFERENCE = re.compile(r"\benv\.([A-Za-z_][A-Za-z0-9_]*)")
_ENV_INDEX = re.compile(r"\benv\[\\?['\"]([A-Za-z_][A-Za-z0-9_]*)\\?['\"]\]")


@dataclass(frozen=True, slots=True)
class RetrySpec:
    """A resolved retry policy (the step's own, else the workflow default, else one attempt)."""

    max_attempts: int = 1
    initial_seconds: float = 1.0
    multiplier: float = 2.0
    max_seconds: float = 60.0
    on: tuple[str, ...] = ("error", "timeout")

    def delay_before(self, next_try: int) -> float:
        """Seconds to wait before try number ``next_try`` (2 for the first retry)."""
        delay = self.initial_seconds * self.multiplier ** max(0, next_try - 2)
        return float(min(delay, self.max_seconds))


@dataclass(frozen=True, slots=True)
class BodyDef:
    """What running one body needs: its type, its type's fields, env, timeout, retry."""

    type: str
    fields: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    timeout_seconds: float | None = None
    retry: RetrySpec = RetrySpec()


@dataclass(frozen=True, slots=True)
class StepDef:
    """One step: its body and the flow control around it."""

    id: str
    list_name: str
    body: BodyDef
    needs: tuple[str, ...] = ()
    when: str | bool | None = None
    continue_on_error: bool = False
    for_each: Any = None
    max_concurrency: int | None = None
    cache_enabled: bool = False
    cache_key: str | None = None
    cache_ttl_seconds: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    compensate: BodyDef | None = None
    templated: bool = False
    needs_by_position: bool = False
    """True when ``needs`` is the previous step in the list because the step declares none."""
    runner: str = "worker"
    """``long``: on a backend with a long-step runner the step's attempts run there, not in
    the process that drives the execution (``ports.LongRunner``)."""

    @property
    def type(self) -> str:
        """The step type (``shell``, ``assert``...)."""
        return self.body.type


@dataclass(frozen=True)
class Definition:
    """A compiled workflow."""

    name: str
    steps: tuple[StepDef, ...]
    version: str | None = None
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    cache_version: str = "1"
    concurrency: dict[str, Any] | None = None
    """``{key, limit, on_conflict}``: the key still a template over ``inputs``."""
    _by_id: dict[str, StepDef] = field(init=False, repr=False, compare=False)
    _lists: dict[str, list[StepDef]] = field(init=False, repr=False, compare=False)
    _env_names: tuple[str, ...] | None = field(default=None, init=False, repr=False, compare=False)
    _source: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)
    """The stored form: the one this definition was read from (:meth:`from_data`), or the one
    :meth:`to_data` built."""

    def __post_init__(self) -> None:
        # The planner looks steps up on every decision: index them once.
        object.__setattr__(self, "_by_id", {step.id: step for step in self.steps})
        lists = {name: [s for s in self.steps if s.list_name == name] for name in STEP_LISTS}
        object.__setattr__(self, "_lists", lists)

    def step(self, step_id: str) -> StepDef:
        """The step with this id (``KeyError`` if none)."""
        return self._by_id[step_id]

    def list_steps(self, list_name: str) -> list[StepDef]:
        """The steps of one list (``steps``, ``on_failure`` or ``finally``) in file order."""
        return self._lists[list_name]

    def environment_names(self) -> tuple[str, ...]:
        """Names the templates read from ``env`` that the workflow's ``env:`` does not set: they
        come from the environment the run was started in."""
        data = self.to_data()  # a definition just compiled finds its names while building it
        if self._env_names is None:  # read from a copy stored before the names were kept
            object.__setattr__(self, "_env_names", _environment_names(data, self.env))
        assert self._env_names is not None
        return self._env_names

    def to_data(self) -> dict[str, Any]:
        """JSON-ready form, stored under the source digest (built once: a definition is frozen).

        It carries the names :meth:`environment_names` finds, so a run of a stored definition
        does not search every step's text for them again.
        """
        if self._source is not None:
            return self._source
        data = {
            "format": DEFINITION_FORMAT,
            "name": self.name,
            "version": self.version,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "env": self.env,
            "secrets": self.secrets,
            "cache_version": self.cache_version,
            "concurrency": self.concurrency,
            "steps": [asdict(step) for step in self.steps],
        }
        names = _environment_names(data, self.env)
        data["env_names"] = list(names)
        object.__setattr__(self, "_source", data)
        object.__setattr__(self, "_env_names", names)
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Definition:
        """Inverse of :meth:`to_data`; ``ValueError`` on another format."""
        if data.get("format") not in _READABLE_FORMATS:
            raise ValueError(f"compiled definition format {data.get('format')!r} is not {DEFINITION_FORMAT}")
        steps = tuple(_step_from_data(raw) for raw in data["steps"])
        definition = cls(
            name=data["name"],
            version=data["version"],
            steps=steps,
            inputs=data["inputs"],
            outputs=data["outputs"],
            env=data["env"],
            secrets=data["secrets"],
            concurrency=data.get("concurrency"),
            cache_version=data["cache_version"],
        )
        object.__setattr__(definition, "_source", data)
        if "env_names" in data:  # absent from a copy stored before it was kept
            object.__setattr__(definition, "_env_names", tuple(data["env_names"]))
        return definition


def _environment_names(data: dict[str, Any], env: dict[str, str]) -> tuple[str, ...]:
    """The ``env`` names the compiled form's text reads that ``env`` does not set."""
    text = json.dumps({key: value for key, value in data.items() if key != "env_names"})
    found = set(_ENV_REFERENCE.findall(text)) | set(_ENV_INDEX.findall(text))
    return tuple(sorted(found - set(env)))


def _body_from_data(raw: dict[str, Any]) -> BodyDef:
    retry = dict(raw["retry"])
    retry["on"] = tuple(retry["on"])
    return BodyDef(**{**raw, "retry": RetrySpec(**retry)})


def _step_from_data(raw: dict[str, Any]) -> StepDef:
    values = dict(raw)
    values["body"] = _body_from_data(raw["body"])
    values["needs"] = tuple(raw["needs"])
    if raw["compensate"] is not None:
        values["compensate"] = _body_from_data(raw["compensate"])
    return StepDef(**values)


def compile_workflow(workflow: Workflow) -> Definition:
    """Compile a validated workflow; defaults are resolved here, once."""
    from baton.spec.graph import resolve_needs
    from baton.spec.outputs import compile_output

    steps: list[StepDef] = []
    for list_name, listed in workflow.step_lists().items():
        needs = resolve_needs(listed)
        steps.extend(_compile_step(workflow, step, list_name, needs[step.id]) for step in listed)
    return Definition(
        name=workflow.name,
        version=workflow.version,
        steps=tuple(steps),
        inputs={name: spec.model_dump(mode="json") for name, spec in workflow.inputs.items()},
        outputs={name: compile_output(workflow, name, out) for name, out in workflow.outputs.items()},
        env=dict(workflow.env),
        secrets={name: ref.model_dump(mode="json") for name, ref in workflow.secrets.items()},
        cache_version=workflow.cache.version,
        concurrency=workflow.concurrency.model_dump(mode="json") if workflow.concurrency else None,
    )


def _retry(policy: RetryPolicy | None) -> RetrySpec:
    if policy is None:
        return RetrySpec()
    return RetrySpec(
        max_attempts=policy.max_attempts,
        initial_seconds=policy.backoff.initial,
        multiplier=policy.backoff.multiplier,
        max_seconds=policy.backoff.max,
        on=tuple(policy.on),
    )


_BODY_COMMON = ("name", "timeout", "retry", "env")
# An approval waits for people and a child workflow for its own steps, not compute: the
# workflow-wide default timeout meant for commands must not expire them.
_OWN_TIMEOUT_ONLY = ("approval", "wait", "workflow")


def _body(workflow: Workflow, model: Any, exclude: set[str]) -> BodyDef:
    fields = model.model_dump(mode="json", by_alias=True, exclude=exclude | set(_BODY_COMMON))
    kind = fields.pop("type")
    kind = {"claude_code": "agent"}.get(kind, kind)
    if kind == "agent":
        fields["provider"] = fields.get("provider") or workflow.defaults.agent.provider
        fields["model"] = fields.get("model") or workflow.defaults.agent.model
    timeout = model.timeout
    if timeout is None and kind not in _OWN_TIMEOUT_ONLY:
        timeout = workflow.defaults.timeout
    return BodyDef(
        type=kind,
        fields=fields,
        env=dict(model.env),
        name=model.name,
        timeout_seconds=timeout,
        retry=_retry(model.retry or workflow.defaults.retry),
    )


def _compile_step(workflow: Workflow, step: AnyStep, list_name: str, needs: list[str]) -> StepDef:
    from baton.spec.steps import StepCommon

    flow = set(StepCommon.model_fields) - set(_BODY_COMMON)
    body = _body(workflow, step, flow)
    compensate = _body(workflow, step.compensate, set()) if step.compensate else None
    cache_key = step.cache.key if step.cache and step.cache.key else step.cache_key
    compiled = StepDef(
        id=step.id,
        list_name=list_name,
        body=body,
        needs=tuple(needs),
        when=step.when,
        continue_on_error=step.continue_on_error,
        for_each=step.for_each,
        max_concurrency=step.max_concurrency,
        cache_enabled=step.cache_enabled,
        cache_key=cache_key,
        cache_ttl_seconds=step.cache.ttl if step.cache else None,
        outputs=dict(step.outputs),
        compensate=compensate,
        needs_by_position=step.needs is None and bool(needs),
        runner=step.runner,
    )
    templated = has_template([body.fields, body.env, compiled.outputs, cache_key, workflow.env])
    return replace(compiled, templated=templated)
