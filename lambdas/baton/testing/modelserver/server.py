"""The model server: an HTTP server on 127.0.0.1 that plays a :class:`Script` in the Anthropic
Messages and Bedrock Converse wire formats and records every request it gets.

Besides the model endpoints it answers ``GET /_baton/requests`` (the recorded requests as
JSON) and ``POST /_baton/script`` (replace the script, clear the record), so a test can drive
a server running in another process.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from baton.testing.modelserver import wire
from baton.testing.modelserver.script import Script, load_script


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the server got."""

    method: str
    path: str
    api: str
    """``messages``, ``converse`` or ``other``."""
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200

    def to_data(self) -> dict[str, Any]:
        """As JSON data."""
        return {
            "method": self.method,
            "path": self.path,
            "api": self.api,
            "body": self.body,
            "headers": self.headers,
            "status": self.status,
        }


class ModelServer:
    """A scripted model on ``127.0.0.1:port`` (``port=0`` picks a free one).

    Use as a context manager, or :meth:`start`/:meth:`stop`. ``requests`` lists what was
    received, model calls and everything else.
    """

    def __init__(self, script: Script | Path | str | dict[str, Any], *, port: int = 0, record: Path | None = None):
        self.script = script if isinstance(script, Script) else load_script(script)
        self.requests: list[RecordedRequest] = []
        self._record_file = record
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (what ``ANTHROPIC_BASE_URL`` and ``endpoint_url`` take)."""
        return f"http://127.0.0.1:{self.port}"

    def model_calls(self) -> list[RecordedRequest]:
        """The requests that asked the model for an answer."""
        with self._lock:
            return [r for r in self.requests if r.api in ("messages", "converse")]

    def load(self, script: Script | Path | str | dict[str, Any]) -> None:
        """Play another script from now on, and forget what was recorded."""
        with self._lock:
            self.script = script if isinstance(script, Script) else load_script(script)
            self.requests.clear()

    def start(self) -> ModelServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="model-server", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread (the ``python -m`` entry point)."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- called by the handler ------------------------------------------------------------

    def record(self, request: RecordedRequest) -> int:
        """Keep a request; returns its 1-based number among model calls (0 for others)."""
        with self._lock:
            self.requests.append(request)
            if self._record_file is not None:
                with self._record_file.open("a", encoding="utf-8") as handle:
                    handle.write(json.dumps(request.to_data()) + "\n")
            return sum(1 for r in self.requests if r.api in ("messages", "converse")) if request.api != "other" else 0


def _handler_for(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        model_server = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    model_server: ModelServer
    protocol_version = "HTTP/1.1"
    # Headers and body in one segment, sent at once: otherwise the client's delayed ACK
    # costs ~40 ms per response on a kept-alive connection.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the record is the log."""

    def do_GET(self) -> None:
        """The record, or 404."""
        if urlsplit(self.path).path == "/_baton/requests":
            with self.model_server._lock:
                data = [r.to_data() for r in self.model_server.requests]
            self._json(200, data)
            return
        self._read_body()
        self.model_server.record(RecordedRequest("GET", self.path, "other", None, self._headers()))
        self._json(404, wire.messages_error(404, f"no route {self.path}"))

    def do_HEAD(self) -> None:
        """Reachability probes."""
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self) -> None:
        """A model call, a script change, or 404."""
        path = urlsplit(self.path).path
        raw = self._read_body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = raw.decode("utf-8", errors="replace")
        if path == "/_baton/script":
            self.model_server.load(body)
            self._json(200, {"ok": True})
        elif path == "/v1/messages":
            self._messages(body)
        elif path.startswith("/model/") and path.endswith("/converse"):
            self._converse(body, unquote(path[len("/model/") : -len("/converse")]))
        else:
            self.model_server.record(RecordedRequest("POST", self.path, "other", body, self._headers()))
            if path == "/v1/messages/count_tokens":
                self._json(200, {"input_tokens": 100})
            else:
                self._json(404, wire.messages_error(404, f"no route {path}"))

    # -- the two APIs ---------------------------------------------------------------------

    def _messages(self, body: dict[str, Any]) -> None:
        request = wire.messages_request(body)
        fault = self._fault("messages", body)
        if fault is not None:
            status, message = fault
            self._json(status, wire.messages_error(status, message), {"retry-after": "0"})
            return
        script = self.model_server.script
        turn = script.turn(request.assistant_turns)
        if turn is not None and turn.delay_seconds:
            time.sleep(turn.delay_seconds)
        reply = wire.answer(turn, request)
        model = request.model or script.model
        if not request.stream:
            self._json(200, wire.messages_json(reply, model))
            return
        chunks = [f"event: {event}\ndata: {json.dumps(data)}\n\n" for event, data in wire.messages_events(reply, model)]
        payload = "".join(chunks).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _converse(self, body: dict[str, Any], model_id: str) -> None:
        request = wire.converse_request(body, model_id)
        fault = self._fault("converse", body)
        if fault is not None:
            code, error = wire.converse_error(fault[0])
            self._json(fault[0], error, {"x-amzn-ErrorType": code})
            return
        turn = self.model_server.script.turn(request.assistant_turns)
        if turn is not None and turn.delay_seconds:
            time.sleep(turn.delay_seconds)
        self._json(200, wire.converse_json(wire.answer(turn, request)))

    def _fault(self, api: str, body: Any) -> tuple[int, str] | None:
        headers = self._headers()
        number = self.model_server.record(RecordedRequest("POST", self.path, api, body, headers))
        fault = self.model_server.script.fault(number)
        if fault is None:
            return None
        with self.model_server._lock:  # the record says what the client got
            last = self.model_server.requests[-1]
            self.model_server.requests[-1] = RecordedRequest(last.method, last.path, api, body, headers, fault.status)
        return fault.status, fault.message

    # -- plumbing -------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _headers(self) -> dict[str, str]:
        keep = ("content-type", "anthropic-version", "anthropic-beta", "x-api-key", "authorization", "user-agent")
        return {k.lower(): v for k, v in self.headers.items() if k.lower() in keep}

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(data).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
