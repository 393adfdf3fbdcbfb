"""Safe YAML reading that remembers where every value came from.

PyYAML composes a node tree (libyaml when available); we construct plain Python values from
it ourselves so that we can (1) keep the line and column of every key and value, (2) report
duplicate keys instead of silently keeping the last, (3) bound alias expansion before any
consumer walks the data (a "billion laughs" file composes cheaply but explodes when walked),
and (4) read scalars the YAML 1.2 way: only true/false are booleans (``on:`` stays a key, as in
GitHub Actions files) and timestamps stay strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

MAX_FILE_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 250_000
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]
_BOOL_TAG = "tag:yaml.org,2002:bool"
_DROPPED_TAGS = {_BOOL_TAG, "tag:yaml.org,2002:timestamp"}
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Yaml12Resolver(Resolver):
    """The default resolver without YAML 1.1's yes/no/on/off booleans and timestamps."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
        for first, resolvers in Resolver.yaml_implicit_resolvers.items()
    }


_Yaml12Resolver.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))

if yaml.__with_libyaml__:
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]

    class _Loader(_Parser, SafeConstructor, _Yaml12Resolver):
        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            SafeConstructor.__init__(self)
            _Yaml12Resolver.__init__(self)

else:  # pragma: no cover - PyYAML without libyaml

    class _Loader(  # type: ignore[no-redef]
        yaml.reader.Reader,
        yaml.scanner.Scanner,
        yaml.parser.Parser,
        yaml.composer.Composer,
        SafeConstructor,
        _Yaml12Resolver,
    ):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            SafeConstructor.__init__(self)
            _Yaml12Resolver.__init__(self)


@dataclass(frozen=True)
class Position:
    """A 1-based line and column in the source text."""

    line: int
    column: int


@dataclass(frozen=True)
class SourceProblem:
    """A problem found while reading YAML, before any schema applies."""

    position: Position
    message: str
    path: PathKey = ()


@dataclass
class SourceDocument:
    """The plain data of a YAML file plus the position of every key and value by path."""

    data: Any
    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)
    problems: list[SourceProblem] = field(default_factory=list)
    blocks: dict[PathKey, Position] = field(default_factory=dict)
    """Literal block scalars (``|``): where their first line of content starts."""

    def position_in_block(self, path: PathKey, line: int) -> Position | None:
        """Where line ``line`` (1-based) of the literal block scalar at ``path`` is, or None."""
        start = self.blocks.get(path)
        return Position(start.line + line - 1, start.column) if start is not None else None

    def position_of(self, path: PathKey, *, key: bool = False) -> Position:
        """Where ``path`` is written (its key if ``key``), or its closest written ancestor."""
        table = self.keys if key else self.values
        if path in table:
            return table[path]
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.values:
                return self.values[path[:cut]]
        return Position(1, 1)


def _block_start(node: ScalarNode, lines: list[str]) -> Position:
    """The first content line of a ``|`` block and its indentation (the line after ``|``)."""
    index = node.start_mark.line + 1
    text = lines[index] if index < len(lines) else ""
    return Position(index + 1, len(text) - len(text.lstrip(" ")) + 1)


def _position(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class YamlReadError(Exception):
    """The text is not YAML we accept at all; carries where and why."""

    def __init__(self, position: Position, message: str) -> None:
        super().__init__(message)
        self.position = position
        self.message = message


def read_yaml(text: str) -> SourceDocument:
    """Parse ``text`` into a ``SourceDocument``; ``YamlReadError`` when it cannot be read."""
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise YamlReadError(Position(1, 1), f"file is {size} bytes; at most {MAX_FILE_BYTES} (1 MiB) are read")
    _check_expansion(text)
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
        problem = exc.problem or "invalid YAML"
        context = f" ({exc.context})" if exc.context else ""
        started = exc.context_mark
        if exc.context and started is not None and started is not mark:
            context = f" ({exc.context} started at line {started.line + 1}, column {started.column + 1})"
        if exc.context and exc.context.startswith("while parsing a flow") and started is not None and mark:
            # Reported where the parser gave up (often the next key); the cause is the opener.
            opener = "[" if "sequence" in exc.context else "{"
            found = f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
            where = Position(started.line + 1, started.column + 1)
            raise YamlReadError(where, f"invalid YAML: this '{opener}' is never closed ({found})") from exc
        raise YamlReadError(where, f"invalid YAML: {problem}{context}") from exc
    except yaml.YAMLError as exc:
        raise YamlReadError(Position(1, 1), f"invalid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if root is None:
        raise YamlReadError(Position(1, 1), "the file is empty; expected a mapping with 'name' and 'steps'")
    builder = _Builder(loader, text)
    document = SourceDocument(data=None)
    document.data = builder.build(root, (), document)
    return document


def _check_expansion(text: str) -> None:
    """Refuse documents whose alias expansion is too large or recursive, without expanding.

    This streams parser events and sums, per collection, the sizes of its children (an
    alias counts the full size of its anchor), so a "billion laughs" file is refused after
    its first few lines instead of after composing all of it.
    """
    parser = _Loader(text)
    sizes: dict[str, int] = {}
    open_collections: list[list[Any]] = []  # [anchor, size, start mark]
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.AliasEvent):
                size = _alias_size(event, sizes, open_collections)
            elif isinstance(event, yaml.ScalarEvent):
                size = 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                open_collections.append([event.anchor, 1, event.start_mark])
                continue
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, size, _ = open_collections.pop()
                if anchor:
                    sizes[anchor] = size
            else:
                continue
            if open_collections:
                open_collections[-1][1] += size
                if open_collections[-1][1] > MAX_EXPANDED_NODES:
                    mark = open_collections[-1][2]
                    raise YamlReadError(
                        Position(mark.line + 1, mark.column + 1),
                        f"aliases expand to more than {MAX_EXPANDED_NODES} values; refusing a possible YAML bomb",
                    )
    except yaml.YAMLError:
        return  # the composing pass reports syntax errors with their position
    finally:
        parser.dispose()


def _alias_size(event: yaml.AliasEvent, sizes: dict[str, int], open_collections: list[list[Any]]) -> int:
    if any(collection[0] == event.anchor for collection in open_collections):
        mark = event.start_mark
        where = Position(mark.line + 1, mark.column + 1) if mark is not None else Position(1, 1)
        raise YamlReadError(where, "recursive alias: a value contains itself")
    return sizes.get(str(event.anchor), 1)


class _Builder:
    """Turns nodes into plain values, recording positions and duplicate keys."""

    def __init__(self, constructor: SafeConstructor, text: str = "") -> None:
        self._constructor = constructor
        self._lines = text.split("\n")

    def build(self, node: Node, path: PathKey, doc: SourceDocument) -> Any:
        doc.values.setdefault(path, _position(node))
        if len(path) > MAX_DEPTH:
            raise YamlReadError(_position(node), f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, ScalarNode):
            if node.style == "|":
                doc.blocks[path] = _block_start(node, self._lines)
            return self._constructor.construct_object(node, deep=True)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, index), doc) for index, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            return self._mapping(node, path, doc)
        raise YamlReadError(_position(node), f"unsupported YAML node {type(node).__name__}")

    def _mapping(self, node: MappingNode, path: PathKey, doc: SourceDocument) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self._merge_sources(value_node))
                continue
            key = self._key(key_node)
            if key in result:
                first = doc.keys[(*path, key)]
                doc.problems.append(
                    SourceProblem(
                        _position(key_node),
                        f"duplicate key '{key}' (first defined at line {first.line}); each key may appear once",
                        (*path, key),
                    )
                )
                continue
            doc.keys[(*path, key)] = _position(key_node)
            result[key] = self.build(value_node, (*path, key), doc)
        for key_node, value_node in merged:
            key = self._key(key_node)
            if key not in result:
                doc.keys[(*path, key)] = _position(key_node)
                result[key] = self.build(value_node, (*path, key), doc)
        return result

    def _merge_sources(self, node: Node) -> list[tuple[Node, Node]]:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        pairs: list[tuple[Node, Node]] = []
        for source in sources:
            if not isinstance(source, MappingNode):
                raise YamlReadError(_position(source), "a merge key '<<' needs a mapping or a list of mappings")
            pairs.extend(source.value)
        return pairs

    def _key(self, node: Node) -> str | int:
        if not isinstance(node, ScalarNode):
            raise YamlReadError(_position(node), "a mapping key must be a plain value, not a list or mapping")
        key = self._constructor.construct_object(node, deep=True)
        if isinstance(key, bool) or key is None:
            return str(node.value)
        return key if isinstance(key, str | int) else str(key)
