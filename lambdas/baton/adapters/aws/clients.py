"""boto3 clients, created lazily and shared by the adapters of one process.

Creating a client costs tens of milliseconds; a Lambda cold start should pay only for the
clients its handler uses, so each is made on first use and kept for the process's life.
"""

from __future__ import annotations

import threading
from typing import Any

from baton.aws_region import default_region
from baton.errors import StateConflictError

# Standard retry mode backs off on throttling and transient errors; the engine itself
# treats a conditional-check failure as an answer, never as something to retry.
_CLIENT_CONFIG = {
    "retries": {"max_attempts": 5, "mode": "standard"},
    "connect_timeout": 5,
    "read_timeout": 30,
    "tcp_keepalive": True,
}

CONFLICT_CODES = frozenset({"ConditionalCheckFailedException", "TransactionConflictException"})
"""Error codes that mean a conditional write lost a race."""
CANCELLATION_CONFLICTS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
"""``CancellationReasons`` codes of a cancelled transaction that mean the same."""


class AwsClients:
    """A factory of boto3 clients for one region (and, in tests, one endpoint)."""

    def __init__(self, *, region: str | None = None, endpoint_url: str | None = None, session: Any = None) -> None:
        self.region = region or default_region()
        self.endpoint_url = endpoint_url
        self._session = session
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str) -> Any:
        """The client of ``service`` (``dynamodb``, ``s3``...), made on first use."""
        client = self._clients.get(service)
        if client is None:
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = self._make(service)
                    self._clients[service] = client
        return client

    def credentials(self) -> Any:
        """The session's credentials (botocore's ``Credentials``), or None when it has none."""
        return self._sessions().get_credentials()

    def _sessions(self) -> Any:
        import boto3

        session = self._session or boto3.session.Session()
        self._session = session
        return session

    def _make(self, service: str) -> Any:
        from botocore.config import Config

        session = self._sessions()
        return session.client(
            service, region_name=self.region, endpoint_url=self.endpoint_url, config=Config(**_CLIENT_CONFIG)
        )


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` (empty for anything else)."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def is_conflict(error: Exception) -> bool:
    """True when ``error`` means a conditional write lost a race (maybe in a transaction)."""
    code = error_code(error)
    if code in CONFLICT_CODES:
        return True
    if code != "TransactionCanceledException":
        return False
    response = getattr(error, "response", {})
    reasons = {reason.get("Code") for reason in response.get("CancellationReasons", [])}
    return bool(reasons & CANCELLATION_CONFLICTS)


def conflict(message: str, error: Exception) -> StateConflictError:
    """The project's error for a lost race, chained to the vendor's."""
    conflict_error = StateConflictError(message)
    conflict_error.__cause__ = error
    return conflict_error
