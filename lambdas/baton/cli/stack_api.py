"""``StackApi``: the stack's REST API as ``baton ... --stack S --api`` calls it.

Every request is signed with SigV4 (service ``execute-api``) with the caller's usual boto3
credentials, which is what the API's IAM authorization checks. Each also carries a one-time
caller proof (a presigned ``sts:GetCallerIdentity`` URL, never sent to STS by the client)
for an emulator whose gateway does not run IAM authorization: the API function then checks
the caller itself. The base URL is the stack's ``ApiUrl…`` output, or ``BATON_API_URL``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from baton.adapters.aws.caller_proof import presign
from baton.adapters.aws.clients import AwsClients
from baton.errors import BatonError

API_URL_VARIABLE = "BATON_API_URL"
API_URL_OUTPUT_PREFIX = "ApiUrl"
CALLER_PROOF_HEADER = "x-baton-caller-proof"
TIMEOUT_SECONDS = 60


class StackApiError(BatonError):
    """The API refused a request, or could not be reached; ``status`` is its HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = dict(body or {})


def api_base_url(outputs: Mapping[str, str], clients: AwsClients, environ: Mapping[str, str] = os.environ) -> str:
    """Where the stack's API answers: ``BATON_API_URL``, else its invoke URL output (on an
    emulator reached through ``AWS_ENDPOINT_URL``, that API's path-style URL there)."""
    if environ.get(API_URL_VARIABLE):
        return environ[API_URL_VARIABLE].rstrip("/")
    found = [value for key, value in outputs.items() if key.startswith(API_URL_OUTPUT_PREFIX)]
    if not found:
        raise BatonError(f"the stack has no REST API output ({API_URL_OUTPUT_PREFIX}...): deploy this version of it")
    url = found[0].rstrip("/")
    if clients.endpoint_url:
        parts = urlsplit(url)
        api_id, stage = (parts.hostname or "").split(".")[0], parts.path.strip("/")
        return f"{clients.endpoint_url.rstrip('/')}/restapis/{api_id}/{stage}/_user_request_"
    return url


class StackApi:
    """Signed JSON requests to one stack's REST API."""

    def __init__(self, base_url: str, clients: AwsClients) -> None:
        self.base_url = base_url.rstrip("/")
        self.clients = clients

    def call(self, method: str, path: str, *, body: Any = None, query: Mapping[str, Any] | None = None) -> Any:
        """The JSON answer of ``method path``; ``StackApiError`` unless it is a 2xx."""
        from urllib.error import HTTPError, URLError
        from urllib.request import Request, urlopen

        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        url = self.base_url + path
        given = {name: str(value) for name, value in (query or {}).items() if value is not None}
        if given:
            url += "?" + urlencode(given)
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json", CALLER_PROOF_HEADER: presign(self.clients("sts"))}
        credentials = self.clients.credentials()
        if credentials is None:
            raise StackApiError(0, "no AWS credentials to sign the API request with (see `aws configure`)")
        signed = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.clients.region).add_auth(signed)
        request = Request(url, data=data, method=method, headers=dict(signed.headers.items()))
        try:
            with urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return _decoded(response.read())
        except HTTPError as exc:
            answer = _decoded(exc.read())
            message = answer.get("message") if isinstance(answer, dict) else None
            raise StackApiError(exc.code, f"the API answered {exc.code}: {message or exc.reason}",
                                answer if isinstance(answer, dict) else None) from exc  # fmt: skip
        except (URLError, OSError) as exc:
            raise StackApiError(0, f"the API at {self.base_url} cannot be reached: {exc}") from exc


def _decoded(payload: bytes) -> Any:
    try:
        return json.loads(payload or b"{}")
    except ValueError:
        return {"message": payload.decode(errors="replace")[:200]}
