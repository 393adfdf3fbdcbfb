"""The servers the reference workflows talk to in the tests, each on 127.0.0.1: an OSV
mirror serving a pinned advisory file (for pip-audit), a pull-request comments API, and the
shop service a deployment is validated against. Each records the requests it got."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from packaging.version import Version

Answer = tuple[int, Any]


class LocalServer:
    """A JSON HTTP server on a free port of 127.0.0.1; ``answer(method, path, body, headers)``
    gives the status and the JSON body of each response."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def answer(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def handle(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        with self._lock:
            self.requests.append({"method": method, "path": path, "body": body, "headers": headers})
            return self.answer(method, path, body, headers)

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: ``server.requests`` is the log."""

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, data = server.handle(self.command, self.path, body, headers)
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _serve

    return Handler


class OsvMirror(LocalServer):
    """Answers OSV's ``POST /v1/query`` from a pinned list of OSV records (ECOSYSTEM ranges)."""

    def __init__(self, advisories: Path) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = json.loads(advisories.read_text())

    @property
    def query_url(self) -> str:
        return f"{self.url}/v1/query"

    def answer(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        if (method, path) != ("POST", "/v1/query"):
            return 404, {"message": "not found"}
        name, version = body["package"]["name"], Version(body["version"])
        vulns = [r for r in self.records if any(_affects(a, name, version) for a in r["affected"])]
        return 200, ({"vulns": vulns} if vulns else {})


def _affects(affected: dict[str, Any], name: str, version: Version) -> bool:
    if affected["package"] != {"ecosystem": "PyPI", "name": name}:
        return False
    for spans in affected.get("ranges", []):
        introduced = fixed = None
        for event in spans["events"]:
            introduced = Version(event["introduced"]) if "introduced" in event else introduced
            fixed = Version(event["fixed"]) if "fixed" in event else fixed
        if (introduced is None or introduced <= version) and (fixed is None or version < fixed):
            return True
    return False


class CommentsApi(LocalServer):
    """A pull request's comments endpoint: ``POST`` adds a comment, answered 201."""

    def answer(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        if method != "POST":
            return 405, {"message": "POST a comment"}
        return 201, {"id": len(self.requests), "html_url": f"{self.url}/pull/7#comment-{len(self.requests)}"}


class ShopService(LocalServer):
    """The deployed shop at one version: health, products, quotes, and its traffic switch."""

    def __init__(self, version: str) -> None:
        super().__init__()
        self.version = version
        self.traffic: dict[str, Any] = {"version": "1.3.2", "percent": 100}
        self.switches: list[int] = []

    def answer(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        where = urlsplit(path)
        if (method, where.path) == ("GET", "/health"):
            return 200, {"status": "ok", "version": self.version}
        if (method, where.path) == ("GET", "/products"):
            return 200, [{"sku": "MUG-1", "price": 8.5}, {"sku": "KETTLE-3", "price": 24.0}]
        if (method, where.path) == ("GET", "/quote"):
            query = parse_qs(where.query)
            quantity = int(query["quantity"][0])
            return 200, {"sku": query["sku"][0], "unit_price": 8.5, "quantity": quantity, "total": 8.5 * quantity}
        if where.path == "/admin/traffic":
            if method == "POST":
                self.switches.append(int(body["percent"]))
                self.traffic = {"version": body["version"], "percent": int(body["percent"])}
            return 200, self.traffic
        return 404, {"message": f"no route {where.path}"}
