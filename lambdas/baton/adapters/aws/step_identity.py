"""``AssumedStepRole``: steps act as the deployment's step role, tagged with their workflow.

The worker's own credentials (which can write every execution, the cache and the queue)
never reach a step. For each workflow the worker assumes the step role with the session
tag ``baton-workflow=<name>`` and hands the temporary credentials to the step; the role's
policy denies every Baton resource outright, and operators grant a workflow more with
policies that match ``aws:PrincipalTag/baton-workflow`` (see docs/adr/0006-step-credentials.md).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from baton.errors import BatonError

WORKFLOW_TAG = "baton-workflow"
"""The session tag naming the workflow a step belongs to."""
SESSION_SECONDS = 3600
"""Credentials obtained by one role assuming another last at most an hour."""
REFRESH_MARGIN = timedelta(seconds=20 * 60)
"""Credentials handed to a step outlive the longest step a worker runs (15 min)."""
_SESSION_UNSAFE = re.compile(r"[^\w+=,.@-]")


class StepIdentityError(BatonError):
    """The step role could not be assumed: the step cannot be given credentials."""


@dataclass(frozen=True, slots=True)
class _Credentials:
    environment: dict[str, str]
    expires_at: datetime


def session_name(workflow: str) -> str:
    """``baton-<workflow>`` in the characters and length STS allows (CloudTrail shows it)."""
    return _SESSION_UNSAFE.sub("-", f"baton-{workflow}")[:64]


class AssumedStepRole:
    """Temporary credentials of the step role, one set per workflow, reused until near expiry."""

    def __init__(
        self, sts: Callable[[], Any], role_arn: str, *, now: Callable[[], datetime], region: str | None
    ) -> None:
        self._sts = sts
        self.role_arn = role_arn
        self._now = now
        self._region = region
        self._cache: dict[str, _Credentials] = {}
        self._lock = threading.Lock()

    def environment(self, workflow: str) -> Mapping[str, str]:
        """``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN`` for ``workflow``."""
        with self._lock:
            cached = self._cache.get(workflow)
            if cached is None or cached.expires_at - self._now() < REFRESH_MARGIN:
                cached = self._assume(workflow)
                self._cache[workflow] = cached
            return dict(cached.environment)

    def _assume(self, workflow: str) -> _Credentials:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._sts().assume_role(
                RoleArn=self.role_arn,
                RoleSessionName=session_name(workflow),
                DurationSeconds=SESSION_SECONDS,
                Tags=[{"Key": WORKFLOW_TAG, "Value": workflow[:256]}],
            )
        except (ClientError, BotoCoreError) as exc:
            raise StepIdentityError(f"cannot assume the step role {self.role_arn} for {workflow}: {exc}") from exc
        credentials = response["Credentials"]
        environment = {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }
        if self._region:
            environment |= {"AWS_REGION": self._region, "AWS_DEFAULT_REGION": self._region}
        expires_at = credentials["Expiration"]
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=self._now().tzinfo)
        return _Credentials(environment, expires_at)
