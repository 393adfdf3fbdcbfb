"""The workflow document: inputs, outputs, secrets, triggers, defaults and the step lists."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from baton.spec.base import (
    WORKFLOW_NAME_PATTERN,
    EnvMap,
    EnvName,
    ScalarString,
    SpecModel,
    StepId,
    Template,
)
from baton.spec.durations import Duration
from baton.spec.schedules import schedule_problem
from baton.spec.steps import AnyStep, RetryPolicy, Step

InputType = Literal["string", "number", "integer", "boolean", "object", "array", "artifact"]

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "artifact": (str,),
}


def value_matches_type(value: Any, kind: str) -> bool:
    """True when ``value`` is of the language type ``kind`` (booleans are not numbers)."""
    if isinstance(value, bool) and kind not in ("boolean",):
        return False
    return isinstance(value, _PYTHON_TYPES[kind])


class InputSpec(SpecModel):
    """One workflow input."""

    type: InputType = "string"
    """string, number, integer, boolean, object, array or artifact (a file path)."""
    required: bool = False
    """A missing required input is an error before anything runs."""
    default: Any = None
    """Value used when the input is not given."""
    description: str | None = None
    """What the input means."""
    enum: list[Any] | None = None
    """Allowed values."""

    @model_validator(mode="after")
    def _default_has_type(self) -> InputSpec:
        if self.default is not None and not value_matches_type(self.default, self.type):
            raise ValueError(f"default {self.default!r} is not of type {self.type}")
        if self.required and self.default is not None:
            raise ValueError("an input with a default cannot be required")
        if self.enum is not None and self.default is not None and self.default not in self.enum:
            raise ValueError(f"default {self.default!r} is not one of the enum values {self.enum!r}")
        return self


class WorkflowOutput(SpecModel):
    """One workflow output: a rendered value, an artifact taken from a step's output, or (with
    neither) the step output of the same name."""

    value: Template | None = None
    """Template rendered when the execution ends."""
    type: InputType | None = None
    """Type the value is converted to; ``artifact`` takes ``from``."""
    from_: str | None = Field(default=None, alias="from", pattern=r"^[a-z0-9_][a-z0-9_-]*\.[A-Za-z0-9_-]+$")
    """``step.output`` naming an artifact output of a step."""
    description: str | None = None
    """What the output means."""

    @model_validator(mode="after")
    def _value_or_from(self) -> WorkflowOutput:
        if self.value is not None and self.from_ is not None:
            raise ValueError("give either 'value' or 'from', not both")
        if self.from_ is not None and self.type != "artifact":
            raise ValueError("'from' takes a file, so it needs 'type: artifact'")
        return self


class SsmSecret(SpecModel):
    ssm: str = Field(min_length=1)
    """SSM Parameter Store name (SecureString)."""


class SecretsManagerSecret(SpecModel):
    secretsmanager: str = Field(min_length=1)
    """Secrets Manager ARN or name."""


class EnvSecret(SpecModel):
    env: EnvName
    """Environment variable of the machine running the step (local runs)."""


def _secret_kind(value: Any) -> str | None:
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in ("ssm", "secretsmanager", "env") else None
    return None


SecretRef = Annotated[
    Annotated[SsmSecret, Tag("ssm")]
    | Annotated[SecretsManagerSecret, Tag("secretsmanager")]
    | Annotated[EnvSecret, Tag("env")],
    Discriminator(
        _secret_kind,
        custom_error_type="secret_source",
        custom_error_message=(
            "a secret needs exactly one source: {ssm: NAME}, {secretsmanager: ARN-OR-NAME} or {env: NAME}"
        ),
    ),
]


class AgentDefaults(SpecModel):
    """Defaults for every agent step."""

    provider: Literal["claude_code", "bedrock", "command"] | None = None
    """Provider of agent steps that name none."""
    model: str | None = None
    """Model of agent steps that name none."""


class Defaults(SpecModel):
    """Defaults for every step."""

    timeout: Duration | None = None
    """Default step timeout."""
    retry: RetryPolicy | None = None
    """Default retry policy."""
    agent: AgentDefaults = AgentDefaults.model_construct()
    """Defaults for agent steps."""


class Concurrency(SpecModel):
    """How many executions with the same key may run at once."""

    key: Template = "{{ workflow }}"
    """Template over ``inputs`` giving the concurrency key."""
    limit: int = Field(default=1, ge=1)
    """Executions with one key at once."""
    on_conflict: Literal["queue", "skip", "cancel-running"] = "queue"
    """What a new execution does when the limit is reached."""


class WorkflowCache(SpecModel):
    """Workflow-wide cache settings."""

    version: ScalarString = "1"
    """Change it to invalidate every cached step of this workflow."""


class ScheduleTrigger(SpecModel):
    """Starts the workflow on an EventBridge Scheduler schedule."""

    schedule: str
    """``cron(0 3 * * ? *)``, ``rate(5 minutes)`` or ``at(2026-01-01T00:00:00)``."""
    timezone: str | None = None
    """IANA time zone of a cron expression (UTC otherwise)."""
    inputs: dict[str, Any] = {}
    """Workflow inputs (templates over ``trigger``)."""

    @field_validator("schedule")
    @classmethod
    def _schedule_syntax(cls, value: str) -> str:
        problem = schedule_problem(value.strip())
        if problem is not None:
            raise ValueError(f"invalid schedule {value!r}: {problem}")
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            import zoneinfo  # only schedules name a zone: not loaded for every file

            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}: expected an IANA name such as Europe/Paris") from exc
        return value


class EventPattern(SpecModel):
    """An EventBridge event pattern."""

    source: list[str] | None = None
    """Event sources to match."""
    detail_type: list[str] | None = Field(default=None, alias="detail-type")
    """Detail types to match."""
    detail: dict[str, Any] | None = None
    """Pattern over the event's detail."""
    resources: list[str] | None = None
    """Resource ARNs to match."""
    account: list[str] | None = None
    """Accounts to match."""

    @field_validator("source", "detail_type", "resources", "account", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class EventTrigger(SpecModel):
    """Starts the workflow on events matching an EventBridge pattern."""

    event: EventPattern
    """The pattern."""
    inputs: dict[str, Any] = {}
    """Workflow inputs (templates over ``trigger``)."""


class S3Location(SpecModel):
    bucket: str = Field(min_length=3, max_length=63)
    """Bucket name."""
    prefix: str | None = None
    """Key prefix."""
    suffix: str | None = None
    """Key suffix."""


class S3Trigger(SpecModel):
    """Starts the workflow when an object is created in a bucket."""

    s3: S3Location
    """Where objects are watched."""
    inputs: dict[str, Any] = {}
    """Workflow inputs (templates over ``trigger``)."""


def _trigger_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [k for k in ("schedule", "event", "s3") if k in value]
        return kinds[0] if len(kinds) == 1 else None
    return None


Trigger = Annotated[
    Annotated[ScheduleTrigger, Tag("schedule")]
    | Annotated[EventTrigger, Tag("event")]
    | Annotated[S3Trigger, Tag("s3")],
    Discriminator(
        _trigger_kind,
        custom_error_type="trigger_kind",
        custom_error_message="a trigger needs exactly one of 'schedule', 'event' or 's3'",
    ),
]


class Workflow(SpecModel):
    """A workflow file."""

    name: str = Field(pattern=WORKFLOW_NAME_PATTERN)
    """``[a-z0-9][a-z0-9-_]{0,79}``."""
    version: ScalarString | None = None
    """Version label."""
    description: str | None = None
    """What the workflow does."""
    inputs: dict[StepId, InputSpec] = {}
    """Input name -> spec."""
    outputs: dict[StepId, WorkflowOutput] = {}
    """Output name -> value template or artifact."""
    env: EnvMap = {}
    """Environment of every shell step."""
    secrets: dict[EnvName, SecretRef] = {}
    """Secret name -> source; resolved at run time, masked everywhere."""
    defaults: Defaults = Defaults.model_construct()
    """Defaults for every step."""
    concurrency: Concurrency | None = None
    """Limit on executions running at once."""
    cache: WorkflowCache = WorkflowCache.model_construct()
    """Cache settings."""
    triggers: list[Trigger] = []
    """What starts the workflow on AWS."""
    steps: list[Step] = Field(min_length=1)
    """The steps; a plain list is a sequence."""
    on_failure: list[Step] = []
    """Steps run when the execution fails (after compensation)."""
    finally_: list[Step] = Field(default=[], alias="finally")
    """Steps always run last."""

    def step_lists(self) -> dict[str, list[AnyStep]]:
        """The three step lists by their YAML key."""
        return {
            "steps": list(self.steps),
            "on_failure": list(self.on_failure),
            "finally": list(self.finally_),
        }

    def all_steps(self) -> list[AnyStep]:
        """Every step of the three lists, in file order."""
        return [*self.steps, *self.on_failure, *self.finally_]

    def step(self, step_id: str) -> AnyStep:
        """The step with this id; ``KeyError`` if there is none."""
        for candidate in self.all_steps():
            if candidate.id == step_id:
                return candidate
        raise KeyError(step_id)
