"""Which secrets a workflow may name on AWS: its own and the deployment's shared ones.

The worker can read every parameter and secret under the secrets prefix, so the registrar
holds each workflow to ``<prefix>/<workflow>/...`` and ``<prefix>/shared/...`` (SSM names
start with ``/``). A definition naming anything else is rejected, so one workflow cannot
have the worker hand it another's secrets.
"""

from __future__ import annotations

from collections.abc import Mapping

SHARED_SCOPE = "shared"


def allowed_prefixes(secrets_prefix: str, workflow: str) -> tuple[str, ...]:
    """Name prefixes (without SSM's leading ``/``) of the secrets ``workflow`` may name."""
    base = secrets_prefix.strip("/")
    return f"{base}/{workflow}/", f"{base}/{SHARED_SCOPE}/"


def secret_name(kind: str, reference: str) -> str:
    """The parameter or secret name of a reference that may be an ARN."""
    if reference.startswith("arn:"):
        resource = reference.split(":", 5)[-1]  # parameter/NAME or secret:NAME-suffix
        if kind == "ssm":
            return resource.removeprefix("parameter").lstrip("/")
        return resource.removeprefix("secret:")
    return reference.lstrip("/")


def out_of_scope(workflow: str, secrets: Mapping[str, Mapping[str, str]], secrets_prefix: str) -> list[str]:
    """One message per secret of ``workflow`` outside the names it may use."""
    prefixes = allowed_prefixes(secrets_prefix, workflow)
    problems = []
    for name, source in secrets.items():
        kind, reference = next(iter(source.items()), ("", ""))
        if kind not in ("ssm", "secretsmanager"):
            continue  # the resolver refuses other sources with its own message
        if not secret_name(kind, reference).startswith(prefixes):
            lead = "/" if kind == "ssm" else ""
            problems.append(
                f"secret {name}: {kind} {reference!r} is outside this workflow's secrets; on this "
                f"deployment use {lead}{prefixes[0]}... or {lead}{prefixes[1]}..."
            )
    return problems
