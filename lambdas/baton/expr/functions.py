"""Built-in functions expressions can call: hashing, reading workspace files, the clock.

Every path is relative to the step's workspace and must stay inside it after symlinks are
resolved; reads are capped, so an expression cannot read the host's files or exhaust memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree

from jinja2 import Undefined

from baton.errors import ExpressionError

#: Largest file ``read_json``, ``read_text`` and ``parse_coverage`` will read.
MAX_READ_BYTES = 10 * 1024 * 1024
_HASH_CHUNK_BYTES = 1024 * 1024
# A DTD is how XML expands entities (billion laughs, external entities): refuse any.
_DTD_MARKERS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def make_functions(workspace: Path, now: Callable[[], datetime]) -> dict[str, Callable[..., Any]]:
    """Build the functions for expressions run against ``workspace``, with ``now`` as clock."""
    files = _Workspace(workspace)

    def now_iso() -> str:
        """The current time (the injected clock) as ISO-8601 UTC."""
        current = now()
        if current.tzinfo is None:
            raise ExpressionError("now(): the clock returned a time without a timezone")
        return current.astimezone(UTC).isoformat()

    return {
        "hash": hash_values,
        "hash_files": files.hash_files,
        "read_json": files.read_json,
        "read_text": files.read_text,
        "parse_coverage": files.parse_coverage,
        "now": now_iso,
    }


def hash_values(*values: Any) -> str:
    """SHA-256 (hex) of the values as canonical JSON (sorted keys, no spaces)."""
    try:
        canonical = json.dumps(
            list(values),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_canonical_default,
        )
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"hash(): {exc}") from exc
    return hashlib.sha256(canonical.encode()).hexdigest()


class _Workspace:
    """File access confined to one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def hash_files(self, *patterns: str) -> str:
        """SHA-256 (hex) over the relative paths and contents of the files matching the glob
        patterns (``**`` recurses), sorted by path; the hash of nothing when none match."""
        digest = hashlib.sha256()
        for relative, path in sorted(self._matches(patterns).items()):
            digest.update(relative.encode() + b"\0")
            digest.update(path.stat().st_size.to_bytes(8, "big"))
            with path.open("rb") as stream:
                while chunk := stream.read(_HASH_CHUNK_BYTES):
                    digest.update(chunk)
        return digest.hexdigest()

    def read_text(self, path: str) -> str:
        """The UTF-8 text of a workspace file."""
        data = self._read("read_text", path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ExpressionError(f"read_text({path!r}): not UTF-8 text: {exc}") from exc

    def read_json(self, path: str) -> Any:
        """The parsed content of a workspace JSON file."""
        data = self._read("read_json", path)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise ExpressionError(f"read_json({path!r}): invalid JSON: {exc}") from exc

    def parse_coverage(self, path: str) -> dict[str, float]:
        """Line and branch coverage, in percent, from a Cobertura XML report's root element."""
        data = self._read("parse_coverage", path)
        where = f"parse_coverage({path!r})"
        if _DTD_MARKERS.search(data) or b"\0" in data:
            # NUL bytes mean UTF-16/32, where the marker search above could not see a DTD.
            raise ExpressionError(f"{where}: DTDs, entities and UTF-16 are not accepted")
        try:
            root = ElementTree.fromstring(data, parser=ElementTree.XMLParser(target=_NoDoctype()))
        except ElementTree.ParseError as exc:
            raise ExpressionError(f"{where}: invalid XML: {exc}") from exc
        if root.tag != "coverage":
            raise ExpressionError(f"{where}: root element is <{root.tag}>, expected <coverage>")
        return {
            "line_coverage": _percent(root, "line-rate", where),
            "branch_coverage": _percent(root, "branch-rate", where),
        }

    def _read(self, function: str, path: str) -> bytes:
        resolved = self._resolve(function, path)
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
            descriptor = os.open(resolved, os.O_RDONLY | os.O_NONBLOCK)
            with os.fdopen(descriptor, "rb") as stream:
                if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                    raise ExpressionError(f"{function}({path!r}): not a regular file")
                data = stream.read(MAX_READ_BYTES + 1)
        except FileNotFoundError as exc:
            raise ExpressionError(f"{function}({path!r}): no such file in the workspace") from exc
        except OSError as exc:
            raise ExpressionError(f"{function}({path!r}): cannot read: {exc.strerror}") from exc
        if len(data) > MAX_READ_BYTES:
            raise ExpressionError(f"{function}({path!r}): file is larger than the {MAX_READ_BYTES} byte limit")
        return data

    def _resolve(self, function: str, path: Any) -> Path:
        if not isinstance(path, str) or not path:
            raise ExpressionError(f"{function}(): expected a path string, got {path!r}")
        # resolve() follows symlinks, so a link pointing out of the workspace is caught too.
        resolved = (self.root / path).resolve()
        if not resolved.is_relative_to(self.root):
            raise ExpressionError(f"{function}({path!r}): path is outside the workspace")
        return resolved

    def _relative_glob(self, pattern: str) -> PurePosixPath:
        """``pattern`` relative to the workspace; an absolute one must lie inside it."""
        pure = PurePosixPath(pattern)
        if pure.is_absolute():
            root = PurePosixPath(self.root.as_posix())
            if not pure.is_relative_to(root) or pure == root:
                raise ExpressionError(f"hash_files({pattern!r}): path is outside the workspace {self.root}")
            pure = pure.relative_to(root)
        if ".." in pure.parts:
            raise ExpressionError(f"hash_files({pattern!r}): '..' would reach outside the workspace")
        return pure

    def _matches(self, patterns: tuple[str, ...]) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for pattern in patterns:
            if not isinstance(pattern, str) or not pattern:
                raise ExpressionError(f"hash_files(): expected a glob string, got {pattern!r}")
            pure = self._relative_glob(pattern)
            # ``src/**`` means every file below src (as in .gitignore); Python before 3.13
            # matches only directories with a trailing ``**``.
            glob = f"{pure}/*" if pure.name == "**" else str(pure)
            for match in self.root.glob(glob):
                resolved = self._resolve("hash_files", str(match))
                if resolved.is_file():
                    found[match.relative_to(self.root).as_posix()] = resolved
        return found


class _NoDoctype:
    """Parser target: an ElementTree builder that refuses any DOCTYPE it meets."""

    def __init__(self) -> None:
        self._builder = ElementTree.TreeBuilder()

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise ExpressionError(f"DOCTYPE {name!r} is not accepted")

    def start(self, tag: str, attrs: dict[str, str]) -> ElementTree.Element:
        return self._builder.start(tag, attrs)

    def end(self, tag: str) -> ElementTree.Element:
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        self._builder.data(data)

    def close(self) -> ElementTree.Element:
        return self._builder.close()


def _percent(root: ElementTree.Element, attribute: str, where: str) -> float:
    raw = root.get(attribute)
    if raw is None:
        raise ExpressionError(f"{where}: <coverage> has no {attribute} attribute")
    try:
        rate = float(raw)
    except ValueError as exc:
        raise ExpressionError(f"{where}: {attribute}={raw!r} is not a number") from exc
    return round(rate * 100, 2)


def _canonical_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises the error naming what was missing
    raise TypeError(f"a value of type {type(value).__name__} cannot be hashed")
