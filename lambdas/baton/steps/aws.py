"""``aws``: one AWS API call through boto3 (``service``, ``action`` as boto3 names them).

boto3 is imported when the first ``aws`` step runs, so the core and the steps that do not
call AWS never load it. Credentials and region come from the step's environment (on AWS the
step role's credentials, never the worker's), then a profile and the shared files; the
environment of the process running the step is not consulted for keys. ``region`` on the
step wins. Throttling and server faults are
retryable; a bad parameter, an unknown action or an access denial is not.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from baton.aws_region import default_region
from baton.errors import StepFailedError
from baton.steps.base import Invocation, StepResult, StepType

if TYPE_CHECKING:
    from baton.engine.expressions import Expressions

_RETRYABLE_CODES = {
    "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "RequestThrottled", "SlowDown", "ServiceUnavailable",
    "InternalError", "InternalFailure", "InternalServerError",
}  # fmt: skip
MAX_STREAM_BYTES = 16 * 1024 * 1024


def prepare(fields: dict[str, Any], context: dict[str, Any], expressions: Expressions) -> dict[str, Any]:
    """Render the parameters (strings inside are templates)."""
    return {
        "service": fields["service"],
        "action": fields["action"],
        "params": expressions.render_data(fields.get("params") or {}, context),
        "region": fields.get("region"),
    }


def run(prepared: dict[str, Any], invocation: Invocation) -> StepResult:
    """Make the call; the output ``response`` is its JSON-safe result."""
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

    service, action = prepared["service"], prepared["action"]
    invocation.stdout_path.parent.mkdir(parents=True, exist_ok=True)
    invocation.stdout_path.write_text(f"{service}.{action}\n", encoding="utf-8")
    invocation.stderr_path.write_text("", encoding="utf-8")
    timeout = invocation.timeout_seconds or 60
    config = Config(connect_timeout=min(timeout, 10), read_timeout=timeout, retries={"mode": "standard"})
    try:
        session = step_session(invocation.env)
        region = (prepared["region"] or invocation.env.get("AWS_REGION") or invocation.env.get("AWS_DEFAULT_REGION")
                  or default_region())  # fmt: skip
        client = session.client(service, region_name=region, config=config, endpoint_url=_endpoint(invocation.env))
    except BotoCoreError as exc:
        raise StepFailedError(f"aws: cannot make a {service!r} client: {exc}", retryable=False) from exc
    call = getattr(client, action, None) if not action.startswith("_") else None
    if call is None or not callable(call):
        raise StepFailedError(f"aws: {service} has no action {action!r} (boto3 snake_case names)", retryable=False)
    try:
        response = call(**prepared["params"])
    except ParamValidationError as exc:
        raise StepFailedError(f"aws {service}.{action}: {exc}", retryable=False) from exc
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        retryable = code in _RETRYABLE_CODES or status >= 500
        return StepResult.failure(f"aws {service}.{action}: {code}: {exc}", retryable=retryable)
    except BotoCoreError as exc:
        return StepResult.failure(f"aws {service}.{action}: {exc}")
    return StepResult({"response": json_safe(response)})


def step_session(env: Mapping[str, str]) -> Any:
    """A boto3 session whose credentials come from ``env`` rather than ``os.environ``.

    The worker process holds the function's own keys in its environment; botocore's
    environment provider is swapped for one that reads the step's, so a step without
    keys of its own finds none instead of the worker's.
    """
    import boto3
    import botocore.session
    from botocore.credentials import EnvProvider

    core = botocore.session.Session(profile=env.get("AWS_PROFILE") or None)
    resolver = core.get_component("credential_provider")
    step_env = EnvProvider(environ=dict(env))
    resolver.providers = [step_env if provider.METHOD == EnvProvider.METHOD else provider
                          for provider in resolver.providers]  # fmt: skip
    return boto3.session.Session(botocore_session=core)


def _endpoint(env: Mapping[str, str]) -> str | None:
    return env.get("AWS_ENDPOINT_URL") or None


def json_safe(value: Any) -> Any:
    """A boto3 response as JSON data: times as ISO-8601, bytes and streams as text (base64
    when not UTF-8)."""
    return json.loads(json.dumps(value, default=_convert))


def _convert(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "read"):
        value = value.read(MAX_STREAM_BYTES)
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


STEP_TYPE = StepType(name="aws", mode="process", prepare=prepare, run=run)
