"""``TriggerManager``: the EventBridge rules and Scheduler schedules behind ``triggers:``.

Every trigger of a workflow becomes one resource named ``<prefix>-rule-<workflow>-<n>`` or
``<prefix>-schedule-<workflow>-<n>`` (IAM scopes the functions to those prefixes), targeting
the starter with a small envelope naming the workflow and the trigger:

- ``event`` and ``s3`` triggers: a rule on the default bus (where AWS services and S3
  publish); its input transformer wraps the whole event (``<aws.events.event.json>``);
- ``schedule`` triggers: a schedule whose input carries Scheduler's context attributes
  (schedule ARN and scheduled time identify one firing, across Scheduler's retries).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from baton import resource_names as names
from baton.adapters.aws.clients import error_code

TARGET_ID = "baton-starter"
TRIGGER_KEY = "baton_trigger"
"""The envelope key the starter recognises a trigger invocation by."""
_GONE = frozenset({"ResourceNotFoundException"})


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    """One trigger as AWS resources see it."""

    name: str
    index: int
    kind: str
    """``event``, ``s3`` or ``schedule``."""
    pattern: dict[str, Any] | None = None
    expression: str | None = None
    timezone: str | None = None

    @property
    def is_schedule(self) -> bool:
        """True for an EventBridge Scheduler schedule, False for a rule."""
        return self.kind == "schedule"


def resource_name(prefix: str, workflow: str, index: int) -> str:
    """``<prefix><workflow>-<index>``, shortened with a digest to fit 64 characters."""
    name = f"{prefix}{workflow}-{index}"
    if len(name) <= names.MAX_RULE_NAME_LENGTH:
        return name
    digest = hashlib.sha256(workflow.encode()).hexdigest()[:8]
    room = names.MAX_RULE_NAME_LENGTH - len(prefix) - len(f"-{digest}-{index}")
    return f"{prefix}{workflow[:room]}-{digest}-{index}"


def s3_pattern(bucket: str, prefix: str | None, suffix: str | None) -> dict[str, Any]:
    """The pattern of S3 ``Object Created`` events for one bucket, prefix and suffix."""
    detail: dict[str, Any] = {"bucket": {"name": [bucket]}}
    if prefix and suffix:
        escaped = [part.replace("\\", "\\\\").replace("*", "\\*") for part in (prefix, suffix)]
        detail["object"] = {"key": [{"wildcard": f"{escaped[0]}*{escaped[1]}"}]}
    elif prefix:
        detail["object"] = {"key": [{"prefix": prefix}]}
    elif suffix:
        detail["object"] = {"key": [{"suffix": suffix}]}
    return {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": detail}


class TriggerManager:
    """Creates, updates and deletes one stack's trigger resources."""

    def __init__(
        self,
        events: Callable[[], Any],
        scheduler: Callable[[], Any],
        *,
        resource_prefix: str,
        starter_arn: str | None,
        scheduler_role_arn: str | None,
        schedule_group: str | None = None,
        dead_letter_arn: str | None = None,
    ) -> None:
        self._events = events
        self.dead_letter_arn = dead_letter_arn
        self._scheduler = scheduler
        self.resource_prefix = resource_prefix
        self.starter_arn = starter_arn
        self.scheduler_role_arn = scheduler_role_arn
        self._group = {"GroupName": schedule_group} if schedule_group else {}

    def rule_name(self, workflow: str, index: int) -> str:
        """The rule of trigger ``index`` of ``workflow``."""
        return resource_name(names.rule_name_prefix(self.resource_prefix), workflow, index)

    def schedule_name(self, workflow: str, index: int) -> str:
        """The schedule of trigger ``index`` of ``workflow``."""
        return resource_name(names.schedule_name_prefix(self.resource_prefix), workflow, index)

    def apply(self, workflow: str, specs: Sequence[TriggerSpec], previous: Sequence[str]) -> None:
        """Create or update every trigger, then remove the ones a new version dropped."""
        self.put(workflow, specs)
        self.remove([name for name in previous if name not in {spec.name for spec in specs}])

    def put(self, workflow: str, specs: Sequence[TriggerSpec]) -> None:
        """Create or update every trigger (a refusal raises ``ClientError``)."""
        if specs and not self.starter_arn:
            raise ValueError(f"{workflow} has triggers but {names.ENV_STARTER_FUNCTION_ARN} is not set")
        for spec in specs:
            if spec.is_schedule:
                self._put_schedule(workflow, spec)
            else:
                self._put_rule(workflow, spec)

    def remove(self, resource_names: Sequence[str]) -> None:
        """Delete rules and schedules by name (already gone is fine)."""
        schedule_prefix = names.schedule_name_prefix(self.resource_prefix)
        for name in resource_names:
            try:
                if name.startswith(schedule_prefix):
                    self._scheduler().delete_schedule(Name=name, **self._group)
                else:
                    self._events().remove_targets(Rule=name, Ids=[TARGET_ID])
                    self._events().delete_rule(Name=name)
            except ClientError as exc:
                if error_code(exc) not in _GONE:
                    raise

    def _envelope(self, workflow: str, spec: TriggerSpec) -> dict[str, Any]:
        return {"workflow": workflow, "trigger": spec.index, "kind": spec.kind}

    def _put_rule(self, workflow: str, spec: TriggerSpec) -> None:
        events = self._events()
        events.put_rule(
            Name=spec.name,
            EventPattern=json.dumps(spec.pattern),
            State="ENABLED",
            Description=f"Baton: starts {workflow} (trigger {spec.index})",
        )
        envelope = json.dumps(self._envelope(workflow, spec))
        template = f'{{"{TRIGGER_KEY}": {envelope}, "event": <aws.events.event.json>}}'
        events.put_targets(
            Rule=spec.name,
            Targets=[{"Id": TARGET_ID, "Arn": self.starter_arn,
                      "InputTransformer": {"InputPathsMap": {}, "InputTemplate": template}}],
        )  # fmt: skip

    def _dead_letters(self) -> dict[str, Any]:
        """A firing Scheduler cannot deliver after its retries is kept, not dropped."""
        if not self.dead_letter_arn:
            return {}
        return {"DeadLetterConfig": {"Arn": self.dead_letter_arn},
                "RetryPolicy": {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 8}}  # fmt: skip

    def _put_schedule(self, workflow: str, spec: TriggerSpec) -> None:
        payload = {
            TRIGGER_KEY: self._envelope(workflow, spec),
            "schedule_arn": "<aws.scheduler.schedule-arn>",
            "scheduled_time": "<aws.scheduler.scheduled-time>",
        }
        request = {
            **self._group,
            "Name": spec.name,
            "ScheduleExpression": spec.expression,
            "ScheduleExpressionTimezone": spec.timezone or "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {
                "Arn": self.starter_arn,
                "RoleArn": self.scheduler_role_arn or "",
                "Input": json.dumps(payload),
                **self._dead_letters(),
            },
        }
        try:
            self._scheduler().create_schedule(**request)
        except ClientError as exc:
            if error_code(exc) != "ConflictException":
                raise
            self._scheduler().update_schedule(**request)
