"""The pages of ``baton report`` and ``baton ui`` without a browser: refreshing while an
execution runs, escaping what steps printed, and clear errors for bad requests."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from threading import Thread

import pytest

from baton.bootstrap import local_engine, local_ports
from baton.insights.web import Pages, make_server

WORKFLOW = """\
name: pages
steps:
  - id: shout
    command: echo "html=<script>alert(1)</script>" >> "$BATON_OUTPUT"
  - id: later
    command: "true"
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pages.yaml").write_text(WORKFLOW)
    return tmp_path


def started(workspace: Path, *, drive: bool) -> str:
    engine = local_engine(workspace / ".baton", {"PATH": "/usr/bin:/bin"})
    definition, digest = engine.load(workspace / "pages.yaml")
    execution = engine.start(definition, digest, {}, workspace=workspace)
    if drive:
        engine.drive(execution.execution_id)
    return execution.execution_id


def test_a_running_execution_page_refreshes_and_a_finished_one_does_not(workspace: Path) -> None:
    running = started(workspace, drive=False)
    done = started(workspace, drive=True)
    pages = Pages(local_ports(workspace / ".baton"))
    status, _, body = pages.run(running)
    assert status == 200
    assert '<meta http-equiv="refresh" content="2">' in body
    assert "still running" in body
    _, _, finished = pages.run(done)
    assert 'http-equiv="refresh"' not in finished


def test_what_a_step_printed_is_escaped(workspace: Path) -> None:
    done = started(workspace, drive=True)
    _, _, body = Pages(local_ports(workspace / ".baton")).report(done)
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


@pytest.fixture
def server(workspace: Path) -> Iterator[str]:
    started(workspace, drive=True)
    httpd = make_server(local_ports(workspace / ".baton"), port=0)
    Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(
    ("path", "status", "text"),
    [
        ("/stats?since=soon", 400, "expected a duration like 7d"),
        ("/runs/missing", 404, "no execution &#39;missing&#39;"),
        ("/nowhere", 404, "no page at /nowhere"),
    ],
    ids=["bad-since", "unknown-run", "unknown-page"],
)
def test_bad_requests_get_a_clear_error_page(server: str, path: str, status: int, text: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server + path, timeout=10)
    assert caught.value.code == status
    assert text in caught.value.read().decode()


def test_the_server_listens_on_loopback_only_and_serves_json_stats(server: str) -> None:
    assert server.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(server + "/api/stats", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        assert b'"executions": 1' in response.read()
