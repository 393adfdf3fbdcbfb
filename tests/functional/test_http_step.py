"""The ``http`` step against a real HTTP server on 127.0.0.1, through ``baton run``."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from baton_cli import Workspace

from baton.steps.http import status_expected

WORKFLOW = """
name: call
inputs:
  base: {type: string, required: true}
  path: {type: string, default: /ok}
secrets:
  TOKEN: {env: CALL_TOKEN}
steps:
  - id: call
    type: http
    method: POST
    url: "{{ inputs.base }}{{ inputs.path }}"
    headers: {Authorization: "Bearer {{ secrets.TOKEN }}"}
    json: {who: "{{ inputs.path }}", n: 2}
    retry: {max_attempts: 2, backoff: {initial: 10ms}}
  - id: check
    type: assert
    condition: "steps.call.outputs.status == 200 and steps.call.outputs.json.echo.n == 2"
"""


class _Echo(BaseHTTPRequestHandler):
    seen: list[dict[str, object]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Echo.seen.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
        status = 500 if self.path == "/broken" else 404 if self.path == "/missing" else 200
        payload = json.dumps({"echo": body}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[str]:
    _Echo.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    space = Workspace(tmp_path, env={"CALL_TOKEN": "s3cr3t-token"})
    space.write("call.yaml", WORKFLOW)
    return space


def test_a_request_succeeds_with_json_outputs_and_masked_secret(workspace: Workspace, server: str) -> None:
    record = workspace.run_json("run", "call.yaml", "--input", f"base={server}")
    call = record["steps"]["call"]
    assert record["status"] == "succeeded"
    assert call["outputs"]["status"] == 200
    assert call["outputs"]["json"] == {"echo": {"who": "/ok", "n": 2}}
    assert _Echo.seen == [{"path": "/ok", "auth": "Bearer s3cr3t-token", "body": {"who": "/ok", "n": 2}}]
    assert "s3cr3t-token" not in json.dumps(record)


@pytest.mark.parametrize(
    ("path", "attempts"),
    [("/broken", 2), ("/missing", 1)],
    ids=["server-error-is-retried", "client-error-is-not"],
)
def test_an_unexpected_status_fails_the_step(workspace: Workspace, server: str, path: str, attempts: int) -> None:
    record = workspace.run_json("run", "call.yaml", "--input", f"base={server}", "--input", f"path={path}", expect=1)
    call = record["steps"]["call"]
    assert call["status"] == "failed"
    assert call["attempts"] == attempts
    assert "expected status 2xx" in call["error"]


def test_only_http_urls_are_opened(workspace: Workspace) -> None:
    record = workspace.run_json("run", "call.yaml", "--input", "base=file:///etc", "--input", "path=/passwd", expect=1)
    assert "only http and https" in record["steps"]["call"]["error"]
    assert record["steps"]["call"]["attempts"] == 1


@pytest.mark.parametrize(
    ("status", "expected", "ok"),
    [(204, "2xx", True), (301, "2xx", False), (201, 201, True), (404, [200, 404], True), (500, [200], False)],
    ids=["2xx", "redirect-not-2xx", "exact", "list", "not-in-list"],
)
def test_status_expected(status: int, expected: int | list[int] | str, ok: bool) -> None:
    assert status_expected(status, expected) is ok
