"""The Lambda side of the runtime ports: lease holders are invocations, and a step's
processes are stopped on takeover or cancel within the sandbox that runs them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from baton import resource_names as names
from baton.adapters.local.runtime import LocalProcessSupervisor

STEP_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "TZ", "LD_LIBRARY_PATH", "AWS_REGION", "AWS_DEFAULT_REGION",
                    names.ENV_BEDROCK_ENDPOINT_URL)  # fmt: skip
"""What a step inherits from the function's environment: a shell, the region and where Bedrock
is (``baton:bedrock-endpoint-url``, for agent steps). Never the
function's credentials (``AWS_ACCESS_KEY_ID``... act as the worker, which can rewrite any
execution) nor the stack's table and queue names: a step's credentials are the step role's,
from ``AssumedStepRole``."""


class LambdaSupervisor(LocalProcessSupervisor):
    """Leases are held by one invocation (``lambda:<request id>:<token>``).

    Liveness cannot be told across sandboxes - two sandboxes may share a host name and a
    pid - so every holder counts as alive and a lease ends only by expiring. ``reap`` still
    finds a unit's processes through ``/proc`` in this sandbox.
    """

    def __init__(self, request_id: str, proc: Path = Path("/proc"), *, owner: str | None = None) -> None:
        super().__init__(proc)
        self.owner = owner or f"lambda:{request_id}:{secrets.token_hex(4)}"
        """A long-step runner's process holds leases in the name its unit was claimed in."""

    def is_alive(self, owner: str) -> bool:
        """Unknown: only an expired lease frees a unit."""
        return True


def step_environment(environ: Mapping[str, str], workspace_root: Path) -> dict[str, str]:
    """The base environment of every step run by a worker."""
    env = {name: environ[name] for name in STEP_ENVIRONMENT if name in environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["HOME"] = str(workspace_root)  # Lambda's file system is read-only outside /tmp
    return env
