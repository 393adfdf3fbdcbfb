"""What the shell scanner finds: templates, their quoting contexts, and heredocs."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Context(enum.Enum):
    """Where a template sits, which decides how its value is referenced."""

    UNQUOTED = "unquoted"
    DOUBLE = "double quotes"
    SINGLE = "single quotes"
    ANSI_C = "$'...' quotes"
    PARAMETER = "a ${...} expansion"
    ARITHMETIC = "arithmetic"
    COMMENT = "a comment"
    HEREDOC = "a heredoc"
    QUOTED_HEREDOC = "a quoted heredoc"


@dataclass(eq=False)
class Slot:
    """A template in the command: ``command[start:end] == source``."""

    start: int
    end: int
    source: str
    context: Context
    #: Set when bash would evaluate the value as arithmetic: it must then be an integer.
    integer_reason: str | None = None


@dataclass(eq=False)
class Heredoc:
    """A heredoc: its delimiter word's span and its body's span (terminator line excluded)."""

    word_start: int
    word_end: int
    delimiter: str
    quoted: bool
    strip_tabs: bool
    body_start: int = 0
    body_end: int = 0
    slots: list[Slot] = field(default_factory=list)


@dataclass(frozen=True)
class Scan:
    """The result of scanning a command."""

    slots: tuple[Slot, ...]
    #: Quoted heredocs holding templates: they must be rewritten with unquoted delimiters.
    quoted_heredocs: tuple[Heredoc, ...]
    problems: tuple[str, ...]


def read_heredoc_word(src: str, start: int, end: int, stops: str) -> Heredoc:
    """The heredoc whose delimiter word starts at ``src[start]`` and ends at one of ``stops``.

    Quote removal gives the delimiter; any quoting makes the heredoc quoted (no expansion).
    """
    position, parts, quoted = start, [], False
    while position < end and src[position] not in stops:
        char = src[position]
        if char in "'\"":
            close = src.find(char, position + 1, end)
            close = end if close < 0 else close
            parts.append(src[position + 1 : close])
            quoted, position = True, close + 1
        elif char == "\\":
            parts.append(src[position + 1 : position + 2])
            quoted, position = True, position + 2
        else:
            parts.append(char)
            position += 1
    return Heredoc(start, min(position, end), "".join(parts), quoted, strip_tabs=False)
