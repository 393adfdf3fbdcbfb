"""Who is asking: a presigned ``sts:GetCallerIdentity`` request as a one-time token.

Lambda does not tell a function who invoked it. So ``baton approve|cancel|resume --stack``
sends a ``GetCallerIdentity`` URL signed with the caller's own credentials (the technique
of IAM-authenticated Kubernetes and Vault logins); the approver calls it, and STS answers
with the caller's ARN. The URL proves the identity, cannot be forged without the caller's
keys, and is accepted once: its signature is recorded (conditionally, with a TTL) before
the action is taken, so a replayed token is refused. A random nonce travels in a signed
header (the URL's fragment carries it to the function), so two tokens signed in the same
second still differ.
"""

from __future__ import annotations

import re
import secrets
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import ClientError

from baton import resource_names as names
from baton.adapters.aws.clients import is_conflict
from baton.errors import BatonError

NONCE_HEADER = "x-baton-nonce"
TOKEN_SECONDS = 300
"""How long a token may be presented after it was signed."""
_OFFICIAL_HOST = re.compile(r"sts(-fips)?(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?")
_ARN = re.compile(r"<Arn>([^<]+)</Arn>")
_LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "localhost.localstack.cloud"})


class CallerProofError(BatonError):
    """The token is missing, forged, expired or already used."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified identity behind one request."""

    arn: str
    token_id: str
    """The token's signature: what makes it single-use."""


def presign(sts: Any, expires_seconds: int = TOKEN_SECONDS) -> str:
    """A ``GetCallerIdentity`` URL signed with ``sts``'s credentials, with its nonce as the
    fragment (the caller side)."""
    nonce = secrets.token_hex(16)

    def add_nonce(request: Any, **_: Any) -> None:
        request.headers[NONCE_HEADER] = nonce

    event = "before-sign.sts.GetCallerIdentity"
    sts.meta.events.register_first(event, add_nonce)
    try:
        url = sts.generate_presigned_url("get_caller_identity", Params={}, ExpiresIn=expires_seconds)
    finally:
        sts.meta.events.unregister(event, add_nonce)
    return f"{url}#{nonce}"


def fetch(url: str, headers: Mapping[str, str]) -> str:
    """GET ``url`` (STS answers in XML); the default transport of :class:`ProofChecker`."""
    request = urllib.request.Request(url, headers=dict(headers))
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode("utf-8", errors="replace"))


class ProofChecker:
    """Verifies tokens and records each one used (items ``PROOF#<signature>`` in the
    executions table, expiring with the token)."""

    def __init__(
        self,
        dynamodb: Callable[[], Any],
        table: str,
        *,
        now: Callable[[], datetime],
        trusted_endpoints: Iterable[str] = (),
        get: Callable[[str, Mapping[str, str]], str] = fetch,
    ) -> None:
        self._dynamodb = dynamodb
        self.table = table
        self._now = now
        self._trusted = {urlsplit(endpoint).netloc for endpoint in trusted_endpoints if endpoint}
        # An emulator on this machine answers under several loopback names; the function's
        # own endpoint names one of them (never set on AWS, where only STS hosts count).
        loopback_ports = {urlsplit(e).port for e in trusted_endpoints if e and urlsplit(e).hostname in _LOOPBACK_NAMES}
        self._trusted |= {f"{name}:{port}" for name in _LOOPBACK_NAMES for port in loopback_ports if port}
        self._get = get

    def verify(self, token: str | None) -> Caller:
        """The caller behind ``token``, consuming it; ``CallerProofError`` otherwise."""
        if not token:
            raise CallerProofError("no caller token: use a baton CLI that signs requests (baton ... --stack)")
        parts = urlsplit(token)
        query = parse_qs(parts.query)
        official = parts.scheme == "https" and _OFFICIAL_HOST.fullmatch(parts.netloc) is not None
        if not (official or parts.netloc in self._trusted):
            raise CallerProofError(f"caller token: {parts.netloc!r} is not an STS endpoint")
        if query.get("Action") != ["GetCallerIdentity"] or "X-Amz-Signature" not in query:
            raise CallerProofError("caller token: not a signed GetCallerIdentity request")
        if not parts.fragment or NONCE_HEADER not in query.get("X-Amz-SignedHeaders", [""])[0].split(";"):
            raise CallerProofError("caller token: its nonce is missing or not signed")
        try:
            answer = self._get(parts._replace(fragment="").geturl(), {NONCE_HEADER: parts.fragment})
        except OSError as exc:
            raise CallerProofError(f"caller token refused by STS: {exc}") from exc
        found = _ARN.search(answer)
        if found is None:
            raise CallerProofError("caller token refused by STS (expired or not validly signed)")
        caller = Caller(found.group(1), query["X-Amz-Signature"][0])
        self._consume(caller)
        return caller

    def _consume(self, caller: Caller) -> None:
        expires = self._now() + timedelta(seconds=TOKEN_SECONDS * 2)
        try:
            self._dynamodb().put_item(
                TableName=self.table,
                Item={
                    names.PARTITION_KEY: {"S": f"PROOF#{caller.token_id}"},
                    names.SORT_KEY: {"S": "PROOF"},
                    "caller": {"S": caller.arn},
                    names.EXECUTIONS_TTL_ATTRIBUTE: {"N": str(int(expires.timestamp()))},
                },
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": names.PARTITION_KEY},
            )
        except ClientError as exc:
            if is_conflict(exc):
                raise CallerProofError("caller token already used: sign a new request") from exc
            raise
