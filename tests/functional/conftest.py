"""Fixtures shared by the functional tests."""

from __future__ import annotations

import pytest
from history_runs import History, make_history


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """Over 500 executions really run on the embedded backend (about 15 s, made once)."""
    return make_history(tmp_path_factory.mktemp("history"))
