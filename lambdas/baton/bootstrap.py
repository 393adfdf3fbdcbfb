"""The one place that picks adapters: the embedded backend under a state directory.

A later issue adds the AWS adapters here; nothing else in the engine knows which is used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from baton.ports import Ports

if TYPE_CHECKING:
    from baton.engine.service import Engine

DEFAULT_STATE_DIR = Path(".baton")
STATE_DIR_ENV = "BATON_STATE_DIR"
MAX_WORKERS_ENV = "BATON_MAX_WORKERS"
DEFAULT_MAX_WORKERS = 32


def state_dir_from(option: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """``--state-dir`` if given, else ``$BATON_STATE_DIR``, else ``.baton``."""
    environ = os.environ if environ is None else environ
    if option is not None:
        return option
    return Path(environ[STATE_DIR_ENV]) if environ.get(STATE_DIR_ENV) else DEFAULT_STATE_DIR


def local_ports(state_dir: Path, environ: Mapping[str, str] | None = None) -> Ports:
    """SQLite state, files for artifacts, cache and logs, a thread pool, the system clock."""
    from baton.adapters.local.children import LocalChildWorkflows
    from baton.adapters.local.fs_artifacts import FilesystemArtifactStore
    from baton.adapters.local.runtime import (
        EnvSecretResolver,
        LocalProcessSupervisor,
        SystemClock,
        ThreadPoolDispatcher,
    )
    from baton.adapters.local.sqlite_state import SqliteStateStore
    from baton.spec.subworkflows import search_path

    environ = dict(os.environ if environ is None else environ)
    workers = int(environ.get(MAX_WORKERS_ENV) or DEFAULT_MAX_WORKERS)
    store = SqliteStateStore(state_dir / "state.db")
    return Ports(
        store=store,
        children=LocalChildWorkflows(search_path(environ)),
        versions=store,
        artifacts=FilesystemArtifactStore(state_dir),
        clock=SystemClock(),
        secrets=EnvSecretResolver(environ),
        supervisor=LocalProcessSupervisor(),
        new_dispatcher=lambda: ThreadPoolDispatcher(max_workers=workers),
    )


def local_engine(state_dir: Path, environ: Mapping[str, str] | None = None) -> Engine:
    """An engine on the embedded backend; steps inherit ``environ`` (the process's by default)."""
    from baton.adapters.local.children import LocalChildWorkflows
    from baton.engine.service import Engine

    environ = dict(os.environ if environ is None else environ)
    workers = int(environ.get(MAX_WORKERS_ENV) or DEFAULT_MAX_WORKERS)
    engine = Engine(local_ports(state_dir, environ), base_env=environ, room=workers)
    children = engine.ports.children
    if isinstance(children, LocalChildWorkflows):
        children.bind(engine)
    return engine
