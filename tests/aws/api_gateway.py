"""A stand-in for API Gateway on 127.0.0.1: HTTP requests to ``/<stage>/...`` become REST
proxy events shaped as AWS sends them (``events/apigateway-rest-proxy.json``) for the real
API handler, run in-process.

Like an emulator without IAM authorization, it requires a SigV4 ``Authorization`` header
(API Gateway's 403 "Missing Authentication Token" otherwise) but does not fill the caller's
identity: the API function then checks the caller proof the request carries itself.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.aws.harness import FakeLambdaContext, aws_event

STAGE = "v1"


def proxy_event(method: str, path: str, query: str, headers: dict[str, str], body: str | None) -> dict[str, Any]:
    """The REST proxy event of one request (``path`` without the stage)."""
    event = copy.deepcopy(aws_event("apigateway-rest-proxy"))
    values = parse_qs(query)
    event.update(httpMethod=method, path=path, resource=path, body=body, isBase64Encoded=False,
                 headers=headers, multiValueHeaders={name: [value] for name, value in headers.items()},
                 queryStringParameters={k: v[-1] for k, v in values.items()} or None,
                 multiValueQueryStringParameters=values or None)  # fmt: skip
    context = event["requestContext"]
    context.update(httpMethod=method, path=f"/{STAGE}{path}", resourcePath=path, stage=STAGE,
                   requestId=str(uuid.uuid4()))  # fmt: skip
    return event


@contextmanager
def api_gateway(handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Iterator[str]:
    """Serve ``handler`` as the REST API; yields the invoke URL (``http://127.0.0.1:PORT/v1``)."""

    class Gateway(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length).decode() if length else None
            headers = {name.lower(): value for name, value in self.headers.items()}
            if not headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 "):
                self._send(403, {"message": "Missing Authentication Token"})
                return
            if not parts.path.startswith(f"/{STAGE}/"):
                self._send(403, {"message": "Missing Authentication Token"})
                return
            event = proxy_event(self.command, parts.path[len(STAGE) + 1 :], parts.query, headers, body)
            response = handler(event, FakeLambdaContext("baton-api"))
            self._send(response["statusCode"], json.loads(response.get("body") or "{}"))

        def _send(self, status: int, body: Any) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{STAGE}"
    finally:
        server.shutdown()
        server.server_close()
