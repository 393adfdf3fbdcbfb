"""``AwsSecretResolver``: ``{ssm: NAME}`` and ``{secretsmanager: ARN-OR-NAME}`` at run time.

Values are cached for a few minutes per process: a worker resolves the workflow's secrets
for every message it handles, and a warm Lambda handles many.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from baton.adapters.aws.clients import error_code
from baton.errors import SecretError

CACHE_SECONDS = 300.0


class AwsSecretResolver:
    """Resolves SSM parameters (decrypted) and Secrets Manager secrets."""

    def __init__(
        self,
        ssm: Callable[[], Any],
        secretsmanager: Callable[[], Any],
        *,
        monotonic: Callable[[], float],
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._ssm = ssm
        self._secretsmanager = secretsmanager
        self._monotonic = monotonic
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}

    def resolve(self, name: str, source: Mapping[str, str]) -> str:
        """The secret's value; ``SecretError`` naming the secret and where it looked."""
        kind, reference = next(iter(source.items()), ("?", ""))
        if kind not in ("ssm", "secretsmanager"):
            raise SecretError(
                f"secret {name}: on AWS a secret comes from {{ssm: NAME}} or {{secretsmanager: ARN-OR-NAME}}, "
                f"not from {kind}; store it in SSM Parameter Store or Secrets Manager"
            )
        cached = self._cache.get((kind, reference))
        if cached is not None and self._monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        value = self._fetch(name, kind, reference)
        self._cache[(kind, reference)] = (self._monotonic(), value)
        return value

    def _fetch(self, name: str, kind: str, reference: str) -> str:
        try:
            if kind == "ssm":
                response = self._ssm().get_parameter(Name=reference, WithDecryption=True)
                return str(response["Parameter"]["Value"])
            response = self._secretsmanager().get_secret_value(SecretId=reference)
        except ClientError as exc:
            where = "SSM parameter" if kind == "ssm" else "Secrets Manager secret"
            raise SecretError(f"secret {name}: {where} {reference!r}: {error_code(exc) or exc}") from exc
        if "SecretString" not in response:
            raise SecretError(f"secret {name}: Secrets Manager secret {reference!r} holds binary data, not text")
        return str(response["SecretString"])
