"""``baton ui``: a read-only web view of the runs on 127.0.0.1.

The standard library's threaded HTTP server is enough here: four GET pages rendered from
the same templates as ``baton report``, no forms, no sessions, nothing to build, and no
extra dependency in the package the Lambda functions share. Every page reads the ports on
each request, so a running execution's page shows progress (it refreshes itself).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from baton.engine.views import iso
from baton.errors import BatonError, ExecutionNotFoundError
from baton.insights.figures import stats_document
from baton.insights.history import load_runs, parse_since, seconds
from baton.insights.report import render_report, run_view, templates
from baton.ports import Ports

HOST = "127.0.0.1"
REFRESH_SECONDS = 2
DEFAULT_SINCE = "7d"
RUN_LIST_LIMIT = 500


class Pages:
    """The pages, as functions of the query; each returns (status, content type, body)."""

    def __init__(self, ports: Ports) -> None:
        self.ports = ports

    def runs(self, query: dict[str, str]) -> tuple[int, str, str]:
        """The runs list, filtered by workflow, status and start."""
        since_text = query.get("since") or DEFAULT_SINCE
        since = parse_since(since_text, datetime.now(UTC))
        history = self.ports.store.list_history(since, query.get("workflow") or None)
        workflows = sorted({e.workflow for e, _ in self.ports.store.list_history(since)})
        status = query.get("status") or ""
        rows = [
            {"id": e.execution_id, "workflow": e.workflow, "status": e.status, "started_at": iso(e.started_at),
             "seconds": seconds(e), "steps": len(records), "error": e.error}
            for e, records in history
            if not status or e.status == status
        ][:RUN_LIST_LIMIT]  # fmt: skip
        body = templates().get_template("runs.html").render(
            rows=rows, workflows=workflows, query={"since": since_text, "status": status,
                                                   "workflow": query.get("workflow", "")},
            limit=RUN_LIST_LIMIT, standalone=False,
        )  # fmt: skip
        return HTTPStatus.OK, "text/html", body

    def run(self, execution_id: str) -> tuple[int, str, str]:
        """One execution's page (the report's content), refreshing while it runs."""
        view = run_view(self.ports, execution_id)
        refresh = REFRESH_SECONDS if view["execution"]["running"] else None
        page = templates().get_template("report.html").render(view=view, standalone=False, refresh=refresh)
        return HTTPStatus.OK, "text/html", page

    def report(self, execution_id: str) -> tuple[int, str, str]:
        """The standalone report file of one execution."""
        return HTTPStatus.OK, "text/html", render_report(run_view(self.ports, execution_id))

    def stats(self, query: dict[str, str], *, as_json: bool = False) -> tuple[int, str, str]:
        """The figures and hints of ``baton stats``."""
        since_text = query.get("since") or DEFAULT_SINCE
        since = parse_since(since_text, datetime.now(UTC))
        workflow = query.get("workflow") or None
        document = stats_document(load_runs(self.ports.store, since, workflow), since.isoformat(), workflow)
        if as_json:
            return HTTPStatus.OK, "application/json", json.dumps(document, indent=2)
        body = (
            templates()
            .get_template("stats.html")
            .render(doc=document, query={"since": since_text, "workflow": workflow or ""}, standalone=False)
        )
        return HTTPStatus.OK, "text/html", body

    def route(self, path: str, query: dict[str, str]) -> tuple[int, str, str]:
        """Dispatch a GET; Baton's own errors become a 4xx page."""
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        try:
            if not parts:
                return self.runs(query)
            if parts == ["stats"]:
                return self.stats(query)
            if parts == ["api", "stats"]:
                return self.stats(query, as_json=True)
            if len(parts) == 2 and parts[0] == "runs":
                return self.run(parts[1])
            if len(parts) == 3 and parts[0] == "runs" and parts[2] == "report.html":
                return self.report(parts[1])
        except ExecutionNotFoundError as exc:
            return self.error(HTTPStatus.NOT_FOUND, str(exc))
        except BatonError as exc:
            return self.error(HTTPStatus.BAD_REQUEST, str(exc))
        return self.error(HTTPStatus.NOT_FOUND, f"no page at {path}")

    def error(self, status: int, message: str) -> tuple[int, str, str]:
        """A small error page."""
        page = templates().get_template("error.html").render(status=status, message=message, standalone=False)
        return status, "text/html", page


def make_server(ports: Ports, port: int = 0) -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 (``port`` 0 picks a free one); call ``serve_forever``."""
    pages = Pages(ports)

    class Handler(BaseHTTPRequestHandler):
        server_version = "baton-ui"

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(url.query).items()}
            status, content_type, body = pages.route(url.path, query)
            encoded = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(encoded)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
            self.end_headers()
            self.wfile.write(encoded)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the terminal shows only the address."""

    server = ThreadingHTTPServer((HOST, port), Handler)
    server.daemon_threads = True
    return server


def serve(ports: Ports, *, port: int, announce: Callable[[str], None]) -> None:
    """Serve until interrupted."""
    server = make_server(ports, port)
    announce(f"http://{HOST}:{server.server_address[1]}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
