"""Step models: the keys every step shares and one model per step type.

Each type exists twice: as a step (with an ``id``, dependencies and flow control) and as a
compensation body (``compensate:``), which carries only what running it needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from baton.spec.base import EnvMap, Expression, ScalarString, SpecModel, StepId, Template
from baton.spec.durations import Duration
from baton.workspace_paths import static_path_problem

STEP_TYPES = ("shell", "assert", "agent", "http", "aws", "wait", "approval", "workflow")
TYPE_ALIASES = {"claude_code": "agent"}
# A step without ``type`` is inferred from a key only one type has.
_INFERRED_BY_KEY = {
    "command": "shell",
    "argv": "shell",
    "condition": "assert",
    "prompt": "agent",
    "url": "http",
    "service": "aws",
    "action": "aws",
    "duration": "wait",
    "until": "wait",
    "workflow": "workflow",
}


class Backoff(SpecModel):
    """Delay between attempts: ``initial``, multiplied by ``multiplier`` each time, at most ``max``."""

    initial: Duration = 1.0
    """Delay before the second attempt."""
    multiplier: float = Field(default=2.0, ge=1)
    """Factor applied to the delay after each attempt."""
    max: Duration = 60.0
    """Upper bound of any delay."""


class RetryPolicy(SpecModel):
    """How often a failed step is tried again, and after what delay."""

    max_attempts: int = Field(default=1, ge=1, le=100)
    """Attempts in all, the first included (1 = no retry)."""
    backoff: Backoff = Backoff.model_construct()
    """Delay between attempts."""
    on: list[Literal["error", "timeout"]] = ["error", "timeout"]
    """Failures that are retried: a step error, a timeout, or both."""


class CachePolicy(SpecModel):
    """Long form of ``cache_key``: the key and how long an entry stays valid."""

    key: Template | None = None
    """Template added to the full cache key (for example ``{{ hash_files('src/**') }}``)."""
    ttl: Duration | None = None
    """How long a cache entry is used; absent means until evicted."""


class BodyCommon(SpecModel):
    """Keys that every step and every compensation body accepts."""

    name: str | None = None
    """Display name."""
    timeout: Duration | None = None
    """Longest time one attempt may take; the workflow's ``defaults.timeout`` otherwise."""
    retry: RetryPolicy | None = None
    """Retry policy; the workflow's ``defaults.retry`` otherwise."""
    env: EnvMap = {}
    """Extra environment variables (values are templates)."""


class StepCommon(BodyCommon):
    """Keys that every step accepts, whatever its type."""

    id: StepId
    """Unique in the file; ``[a-z0-9_][a-z0-9_-]*``."""
    needs: list[StepId] | None = None
    """Steps this one waits for. Absent: the previous step in the list. ``[]``: starts at once."""
    when: Expression | None = None
    """Expression; false marks the step ``skipped`` (its dependants still run)."""
    continue_on_error: bool = False
    """A failure is recorded but the execution goes on."""
    cache_key: Template | None = None
    """Template; when set, a step whose full cache key was seen before is restored, not run."""
    use_cache: bool = False
    """Cache this step on its rendered body and declared inputs alone."""
    cache: CachePolicy | None = None
    """Long form of ``cache_key`` with a ``ttl``."""
    outputs: dict[StepId, Template] = {}
    """Output name -> file path in the workspace; stored as an artifact. The path, once templated
    and with symlinks followed, must lie inside the workspace."""
    for_each: Expression | list[Any] | None = None
    """Expression giving a list (or a literal list): the step runs once per item."""
    max_concurrency: int | None = Field(default=None, ge=1)
    """With ``for_each``: at most this many items run at once."""
    compensate: CompensationBody | None = None
    """Step body run, in reverse completion order, when the execution fails after this step succeeded."""
    runner: Literal["worker", "long"] = "worker"
    """Where the step runs on AWS: ``worker`` (inline in the worker function, so its timeout
    must fit in one invocation) or ``long`` (a CodeBuild build of its own, for a timeout of up
    to 8 h less 375 s; its ``compensate`` runs in the worker). Local runs ignore it."""

    @field_validator("needs", mode="before")
    @classmethod
    def _needs_as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("outputs")
    @classmethod
    def _outputs_inside_workspace(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            problem = static_path_problem(path)
            if problem is not None:
                raise ValueError(f"output {name!r}: {problem}")
        return value

    @field_validator("for_each", mode="before")
    @classmethod
    def _for_each_given(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError('for_each needs an expression that gives a list, such as "{{ inputs.files }}"')
        return value

    @property
    def cache_enabled(self) -> bool:
        """True when this step's results are cached."""
        return self.use_cache or self.cache_key is not None or self.cache is not None


class ShellFields(SpecModel):
    type: Literal["shell"] = "shell"
    """Runs a command with bash (``command``) or a program without a shell (``argv``)."""
    command: Template | None = None
    """Script run with ``bash -eo pipefail``; template values arrive as variables, never as code."""
    argv: list[Template] | None = None
    """Program and arguments, run without a shell."""
    working_dir: Template | None = None
    """Directory to run in, relative to the workspace."""

    @model_validator(mode="after")
    def _one_form(self) -> ShellFields:
        if (self.command is None) == (self.argv is None):
            raise ValueError("a shell step needs exactly one of 'command' or 'argv'")
        if self.argv is not None and not self.argv:
            raise ValueError("'argv' needs at least the program to run")
        return self


class AssertFields(SpecModel):
    type: Literal["assert"] = "assert"
    """Checks a condition."""
    condition: Expression
    """Expression that must be true."""
    message: Template | None = None
    """Message of the failure when the condition is false."""
    on_false: Literal["fail", "stop"] = "fail"
    """``fail`` fails the step; ``stop`` ends the execution early as succeeded."""


class AgentBudget(SpecModel):
    """Spending bound of one agent step."""

    usd: float = Field(gt=0)
    """US dollars, estimated from the tokens used and the price table."""


class AgentFields(SpecModel):
    type: Literal["agent", "claude_code"] = "agent"
    """Runs an LLM agent on the workspace (``claude_code`` is an alias)."""
    prompt: Template
    """Instructions for the agent."""
    inputs: list[Template] = []
    """Files given to the agent (their contents are part of the cache key)."""
    model: str | None = None
    """Model identifier, passed to the provider (a Bedrock model id for ``bedrock``)."""
    provider: Literal["claude_code", "bedrock", "command"] | None = None
    """``claude_code`` runs the Claude Code CLI, ``bedrock`` a tool-use loop over Amazon Bedrock,
    ``command`` any agent program (JSON on stdin and stdout). Default: ``defaults.agent.provider``,
    then ``$BATON_AGENT_PROVIDER``, then ``bedrock``."""
    command: list[Template] | None = None
    """With ``provider: command``: the program and its arguments; the request arrives on stdin."""
    security_profile: Literal["restricted", "standard", "trusted"] = "restricted"
    """``restricted``: writes only in the workspace, no network tools, allow-listed commands;
    ``standard`` adds network tools; ``trusted`` also allows any command."""
    allowed_commands: list[str] = []
    """Programs the agent may run under ``restricted`` and ``standard``."""
    max_turns: int | None = Field(default=None, ge=1)
    """Most model calls the agent may make."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Upper bound of output tokens per model call."""
    budget: float | AgentBudget | None = None
    """Upper bound of estimated spend: ``{usd: 2.0}`` (or a bare number of dollars)."""

    @field_validator("budget")
    @classmethod
    def _positive_budget(cls, value: Any) -> Any:
        if isinstance(value, int | float) and value <= 0:
            raise ValueError("budget must be more than 0 dollars")
        return value


class HttpFields(SpecModel):
    type: Literal["http"] = "http"
    """Sends an HTTP request."""
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    """HTTP method."""
    url: Template
    """URL to call."""
    headers: dict[str, Template] = {}
    """Request headers."""
    json_body: Any = Field(default=None, alias="json")
    """Body sent as JSON (strings inside are templates)."""
    body: Template | None = None
    """Raw body."""
    expect_status: int | list[int] | Literal["2xx", "3xx", "4xx", "5xx"] = "2xx"
    """Statuses that count as success."""

    @model_validator(mode="after")
    def _one_body(self) -> HttpFields:
        if self.json_body is not None and self.body is not None:
            raise ValueError("give either 'json' or 'body', not both")
        return self


class AwsFields(SpecModel):
    type: Literal["aws"] = "aws"
    """Calls an AWS API through boto3."""
    service: str
    """boto3 client name (``s3``, ``dynamodb``, ...)."""
    action: str
    """boto3 method name (``put_object``)."""
    params: dict[str, Any] = {}
    """Parameters of the call (strings inside are templates)."""
    region: str | None = None
    """Region; the execution's region otherwise."""


class WaitFields(SpecModel):
    type: Literal["wait"] = "wait"
    """Waits; holds no compute on AWS."""
    duration: Duration | None = None
    """How long to wait."""
    until: Template | None = None
    """ISO-8601 timestamp to wait for."""

    @model_validator(mode="after")
    def _one_bound(self) -> WaitFields:
        if (self.duration is None) == (self.until is None):
            raise ValueError("a wait step needs exactly one of 'duration' or 'until'")
        return self


def _type_is_required(schema: dict[str, Any]) -> None:
    """In the JSON Schema, a type that cannot be inferred from another key must be written."""
    required = schema.setdefault("required", [])
    if "type" not in required:
        required.append("type")


class ApprovalFields(SpecModel):
    model_config = ConfigDict(json_schema_extra=_type_is_required)

    type: Literal["approval"] = "approval"
    """Waits for ``baton approve`` or ``baton approve --reject``."""
    message: Template | None = None
    """What the approver is asked."""
    on_timeout: Literal["reject", "approve"] = "reject"
    """The answer taken when ``timeout`` passes with none: ``reject`` fails the step (the
    default), ``approve`` lets the workflow go on (``decision: approved``, ``by: timeout``)."""


class WorkflowFields(SpecModel):
    type: Literal["workflow"] = "workflow"
    """Runs another workflow as a child execution."""
    workflow: str
    """The child workflow: a name (``NAME@VERSION`` or ``NAME@sha256:DIGEST`` pins one), or locally a file."""
    inputs: dict[str, Any] = {}
    """Inputs of the child (strings are templates), checked against its ``inputs:``."""
    version: ScalarString | None = None
    """The ``version:`` of the child to run (as ``NAME@VERSION``); the current one otherwise."""


class ShellStep(StepCommon, ShellFields):
    """A ``shell`` step."""


class AssertStep(StepCommon, AssertFields):
    """An ``assert`` step."""


class AgentStep(StepCommon, AgentFields):
    """An ``agent`` (``claude_code``) step."""


class HttpStep(StepCommon, HttpFields):
    """An ``http`` step."""


class AwsStep(StepCommon, AwsFields):
    """An ``aws`` step."""


class WaitStep(StepCommon, WaitFields):
    """A ``wait`` step."""


class ApprovalStep(StepCommon, ApprovalFields):
    """An ``approval`` step."""


class WorkflowStep(StepCommon, WorkflowFields):
    """A ``workflow`` step."""


class ShellBody(BodyCommon, ShellFields):
    """A ``shell`` compensation."""


class AssertBody(BodyCommon, AssertFields):
    """An ``assert`` compensation."""


class AgentBody(BodyCommon, AgentFields):
    """An ``agent`` compensation."""


class HttpBody(BodyCommon, HttpFields):
    """An ``http`` compensation."""


class AwsBody(BodyCommon, AwsFields):
    """An ``aws`` compensation."""


class WaitBody(BodyCommon, WaitFields):
    """A ``wait`` compensation."""


class ApprovalBody(BodyCommon, ApprovalFields):
    """An ``approval`` compensation."""


class WorkflowBody(BodyCommon, WorkflowFields):
    """A ``workflow`` compensation."""


def step_type_of(value: Any) -> str | None:
    """The canonical type of a step given as a mapping or a model; None if it cannot be told."""
    if not isinstance(value, dict):
        kind = getattr(value, "type", None)
        return TYPE_ALIASES.get(kind, kind) if isinstance(kind, str) else None
    kind = value.get("type")
    if kind is None:
        inferred = {_INFERRED_BY_KEY[k] for k in value if k in _INFERRED_BY_KEY}
        return inferred.pop() if len(inferred) == 1 else None
    if not isinstance(kind, str):
        return None
    kind = TYPE_ALIASES.get(kind, kind)
    return kind if kind in STEP_TYPES else None


_STEP_TYPE_ERROR = "step_type"
_WHOLE_UNIONS = [False]
# In the order of STEP_TYPES.
_STEP_MODELS: tuple[type[BaseModel], ...] = (
    ShellStep, AssertStep, AgentStep, HttpStep, AwsStep, WaitStep, ApprovalStep, WorkflowStep,
)  # fmt: skip
_BODY_MODELS: tuple[type[BaseModel], ...] = (
    ShellBody, AssertBody, AgentBody, HttpBody, AwsBody, WaitBody, ApprovalBody, WorkflowBody,
)  # fmt: skip


class ByType:
    """Validates a step (or a compensation body) with the one model its type names, whose
    validator is built the first time that type is met. A file of shell steps then never
    builds the validators of the seven other types, which were most of a first run's
    validation time. Errors are those of the tagged union, without the tag in their
    location. The JSON Schema is made from the whole union (:func:`whole_unions`)."""

    def __init__(self, models: dict[str, type[BaseModel]]) -> None:
        self._models = models
        self._adapters: dict[str, TypeAdapter[Any]] = {}

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        if _WHOLE_UNIONS[0]:
            return handler(source)
        return core_schema.no_info_plain_validator_function(self._validate)

    def _validate(self, value: Any) -> Any:
        kind = step_type_of(value)
        if kind is None:
            raise PydanticCustomError(_STEP_TYPE_ERROR, "unknown step type")
        adapter = self._adapters.get(kind)
        if adapter is None:
            adapter = self._adapters.setdefault(kind, TypeAdapter(self._models[kind]))
        return adapter.validate_python(value)


@contextmanager
def whole_unions(*models: type[BaseModel]) -> Iterator[None]:
    """Rebuild the step models and then ``models`` with every step union whole, as the JSON
    Schema needs (the models then keep those validators)."""
    _WHOLE_UNIONS[0] = True
    try:
        for model in (*_STEP_MODELS, *models):
            model.model_rebuild(force=True)
        yield
    finally:
        _WHOLE_UNIONS[0] = False


Step = Annotated[
    Annotated[ShellStep, Tag("shell")]
    | Annotated[AssertStep, Tag("assert")]
    | Annotated[AgentStep, Tag("agent")]
    | Annotated[HttpStep, Tag("http")]
    | Annotated[AwsStep, Tag("aws")]
    | Annotated[WaitStep, Tag("wait")]
    | Annotated[ApprovalStep, Tag("approval")]
    | Annotated[WorkflowStep, Tag("workflow")],
    Discriminator(step_type_of, custom_error_type=_STEP_TYPE_ERROR, custom_error_message="unknown step type"),
    ByType(dict(zip(STEP_TYPES, _STEP_MODELS, strict=True))),
]
"""Any step, chosen by ``type`` (or inferred from a key only one type has)."""

CompensationBody = Annotated[
    Annotated[ShellBody, Tag("shell")]
    | Annotated[AssertBody, Tag("assert")]
    | Annotated[AgentBody, Tag("agent")]
    | Annotated[HttpBody, Tag("http")]
    | Annotated[AwsBody, Tag("aws")]
    | Annotated[WaitBody, Tag("wait")]
    | Annotated[ApprovalBody, Tag("approval")]
    | Annotated[WorkflowBody, Tag("workflow")],
    Discriminator(step_type_of, custom_error_type=_STEP_TYPE_ERROR, custom_error_message="unknown step type"),
    ByType(dict(zip(STEP_TYPES, _BODY_MODELS, strict=True))),
]
"""A step body without flow control, run as a compensation."""


AnyStep = ShellStep | AssertStep | AgentStep | HttpStep | AwsStep | WaitStep | ApprovalStep | WorkflowStep
STEP_ERROR_TYPE = _STEP_TYPE_ERROR

COMMON_STEP_KEYS: tuple[str, ...] = tuple(field.alias or name for name, field in StepCommon.model_fields.items())
"""The keys every step accepts, whatever its type (``type`` not included)."""
