"""``baton ui`` and ``baton report`` in a real headless browser (Debian's Chromium through
Playwright) over the recorded history of ``history_runs``.

Skipped, saying why, where Chromium or Playwright is missing (``make test`` installs both
when it runs as root). With ``BATON_UPDATE_SCREENSHOTS=1`` the screenshots go to
``docs/images/`` instead of the test's temporary folder.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from baton_cli import BATON, ROOT
from history_runs import History

from baton.bootstrap import local_ports
from baton.insights.web import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing (make test installs Debian's chromium when run as root)", allow_module_level=True
    )


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("BATON_UPDATE_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "images"
        target.mkdir(parents=True, exist_ok=True)
        return target
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def ui(history: History) -> Iterator[str]:
    server = make_server(local_ports(history.state_dir), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def failed_fanout(history: History) -> str:
    """A fan-out whose second item failed (so every kind of row is on its page)."""
    db_statuses = history.statuses
    from baton.adapters.local.sqlite_state import SqliteStateStore

    store = SqliteStateStore(history.state_dir / "state.db")
    for execution_id, status in db_statuses.items():
        if status == "failed" and store.get_execution(execution_id).workflow == "fanout":
            return execution_id
    raise AssertionError("the history has no failed fan-out")


def test_the_runs_list_shows_failed_and_succeeded_runs_and_filters(ui: str, page: Any, shots: Path) -> None:
    page.goto(f"{ui}/?workflow=pipeline")
    statuses = page.locator("#runs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert {"failed", "succeeded"} <= set(statuses)
    assert len(statuses) == 500
    page.screenshot(path=str(shots / "ui-runs.png"))
    page.select_option("select[name=status]", "failed")
    page.click("button[type=submit]")
    page.wait_for_url("**status=failed**")
    filtered = page.locator("#runs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert filtered
    assert set(filtered) == {"failed"}
    assert len(filtered) < len(statuses)


def test_the_run_page_shows_every_step_item_and_the_timeline(ui: str, page: Any, history: History, shots: Path) -> None:
    execution_id = failed_fanout(history)
    page.goto(f"{ui}/")
    page.click(f"a[href='/runs/{execution_id}']")
    page.wait_for_selector("#timeline")
    assert page.locator("[data-testid=execution-status]").inner_text() == "failed"
    rows = page.locator("#timeline .row").evaluate_all("rows => rows.map(r => r.dataset.key)")
    assert rows == ["items", "items[0]", "items[1]", "items[2]", "report"]
    assert page.locator("#steps tbody tr").count() == 2
    assert page.locator("#graph .node").count() == 2
    assert page.locator("#graph .node.s-failed").count() == 1
    assert "exited with code 1" in page.locator("#step-items\\[1\\]").inner_text()
    bars = page.locator("#timeline .bar")
    assert bars.count() == 4  # the skipped report step never started
    assert all(box["width"] > 0 for box in bars.evaluate_all("b => b.map(e => e.getBoundingClientRect().toJSON())"))
    page.locator("#timeline").screenshot(path=str(shots / "ui-timeline.png"))
    page.screenshot(path=str(shots / "ui-run.png"), full_page=True)


def test_the_stats_page_shows_the_figures_and_hints(ui: str, page: Any, shots: Path) -> None:
    page.goto(f"{ui}/stats")
    assert page.locator(".hint").count() >= 3
    assert {"cache", "parallel", "flaky"} <= set(page.locator(".hint").evaluate_all("h => h.map(e => e.dataset.kind)"))
    assert "injected failure" in page.locator("#wf-pipeline ~ table").all_inner_texts()[-1] or "injected failure" in (
        page.content()
    )
    page.screenshot(path=str(shots / "ui-stats.png"), full_page=True)


def test_the_report_file_is_self_contained(page: Any, history: History, tmp_path: Path, shots: Path) -> None:
    execution_id = failed_fanout(history)
    target = tmp_path / "report.html"
    result = subprocess.run(
        [BATON, "report", execution_id, "--state-dir", str(history.state_dir), "-o", str(target)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(target.as_uri())
    assert requested == [target.as_uri()]  # no stylesheet, script, font or image fetched
    assert page.locator("#timeline .row").count() == 5
    assert page.locator("#graph .node").count() == 2
    page.screenshot(path=str(shots / "report.png"), full_page=True)


def test_an_unknown_run_is_a_404_page(ui: str, page: Any) -> None:
    response = page.goto(f"{ui}/runs/nope")
    assert response.status == 404
    assert "no execution 'nope'" in page.content()
