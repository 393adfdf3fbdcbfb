"""Rendering ``command:`` templates so that no value can change the command's structure.

Why environment variables
-------------------------
Splicing a value into script text and then quoting it is a losing game: the right escaping
depends on the exact quoting context (unquoted, ``"..."``, ``'...'``, ``$'...'``, heredocs,
``$( )`` nested inside any of these), and one mistake lets ``$(touch pwned)`` run. Instead,
each ``{{ expr }}`` is evaluated and its text put in an environment variable ``BATON_T_<n>``;
the template is replaced in the script by a *reference* to that variable. Bash never parses
the result of a parameter expansion as syntax, so the value arrives byte for byte, as data.

The reference depends on where the template sits (found by :mod:`baton.expr.shell_scan`):

=====================================  ==============================  =====================
context                                reference                       why
=====================================  ==============================  =====================
unquoted word                          ``"${BATON_T_0}"``              no splitting/globbing
``"double quotes"``                    ``${BATON_T_0}``                already one word
``'single quotes'``                    ``'"${BATON_T_0}"'``            close, insert, reopen
``$'ANSI-C'``                          ``'"${BATON_T_0}"$'``           close, insert, reopen
``${x:-word}``, ``${x#pattern}``       ``"${BATON_T_0}"``              literal, not a pattern
heredoc, unquoted delimiter            ``${BATON_T_0}``                expansions not rescanned
heredoc, quoted delimiter              ``${BATON_T_0}``                see below
comment                                ``${BATON_T_0}``                never expanded
arithmetic                             ``${BATON_T_0}``                integers only, see below
=====================================  ==============================  =====================

``$( )`` and backquotes restart quoting, so a template inside them gets the reference of its
context there. A quoted heredoc (``<<'EOF'``, ``<<"EOF"``, ``<<\\EOF``) expands nothing, so
one holding templates is rewritten to the unquoted delimiter with ``\\``, ``$`` and the
backquote of its literal text escaped: that text stays exactly as written, and the references
expand. ``<<-`` keeps stripping leading tabs.

Arithmetic re-evaluates values
------------------------------
In ``$(( ))``, ``(( ))``, ``$[ ]``, array subscripts, ``${x:offset:length}``, operands of
``[[ a -eq b ]]`` and ``let``, bash evaluates a variable's *value* as an arithmetic
expression, and ``a[$(cmd)]`` there runs ``cmd``. A value in those positions must therefore
match ``-?[0-9]+``; anything else is refused when the command is rendered. For the same
reason templates may not name variables for ``declare``, ``read``, ``printf -v``, ``wait -p``,
``unset`` or ``test -v``, nor be arguments of ``eval``, ``trap``, ``alias``, ``mapfile -C`` or
``bash -c``, nor values of ``PS4`` and other prompt variables; a value assigned to a variable
declared ``-i`` must be an integer; the key of an associative array declared at the top of the
script is a plain string (see :mod:`baton.expr.shell_commands`).
What the script itself later does with ``$BATON_T_0`` (``eval``, ``ssh host "$v"``,
``bash -c``) is the script author's responsibility, as with any environment variable.

A value is always *one* word. To run a value holding a command line as several words, let
bash split it without expanding it: ``read -ra cmd <<< "{{ inputs.test_command }}";
"${cmd[@]}" --cov`` (or use ``argv:``).

Other rules: ``{% %}`` blocks are refused (compute the value in an expression instead);
``{#`` is bash text here (``${#array[@]}``), not a Jinja comment; ``${{`` (GitHub Actions
syntax) and a backslash right before ``{{`` are refused, as they would merge with the
reference's own quoting. A value may not contain a NUL byte and is limited to what Linux
accepts in one environment variable (128 KiB).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from baton.errors import ExpressionError
from baton.expr.engine import ExpressionEngine
from baton.expr.references import Reference
from baton.expr.shell_model import Context, Heredoc, Scan, Slot
from baton.expr.shell_scan import scan_command
from baton.expr.values import to_text

#: Prefix of the environment variables carrying template values.
VARIABLE_PREFIX = "BATON_T_"
# Linux refuses (E2BIG) any single "NAME=value" environment string over 32 pages.
_MAX_ENV_STRING_BYTES = 128 * 1024
_INTEGER = re.compile(r"-?[0-9]+")
_REFERENCES = {
    Context.UNQUOTED: '"${%s}"',
    Context.DOUBLE: "${%s}",
    Context.SINGLE: "'\"${%s}\"'",
    Context.ANSI_C: "'\"${%s}\"$'",
    Context.PARAMETER: '"${%s}"',
    Context.ARITHMETIC: "${%s}",
    Context.COMMENT: "${%s}",
    Context.HEREDOC: "${%s}",
    Context.QUOTED_HEREDOC: "${%s}",
}
_HEREDOC_ESCAPES = {"\\": "\\\\", "$": "\\$", "`": "\\`"}


@dataclass(frozen=True)
class ShellScript:
    """A rendered command: run ``script`` with bash, with ``env`` added to its environment."""

    script: str
    env: dict[str, str]


def render_shell(command: str, context: Mapping[str, Any], engine: ExpressionEngine) -> ShellScript:
    """Render a ``command:`` template; values travel in ``env``, never in ``script``.

    Raises ``ExpressionError`` for a template in a place it cannot be used safely, for an
    expression that fails, or for a value bash could run as code (see the module docstring).
    """
    scan = scan_command(command)
    if scan.problems:
        raise ExpressionError("command cannot be rendered safely: " + "; ".join(scan.problems))
    env: dict[str, str] = {}
    names: dict[int, str] = {}  # slot start -> variable name
    for number, slot in enumerate(scan.slots):
        name = f"{VARIABLE_PREFIX}{number}"
        env[name] = _checked_value(slot, name, to_text(engine.render_value(slot.source, context)))
        names[slot.start] = name
    return ShellScript(_rewrite(command, scan, names), env)


def render_argv(argv: list[str], context: Mapping[str, Any], engine: ExpressionEngine) -> list[str]:
    """Render each ``argv:`` element as text; no shell is involved, so text is safe as is."""
    rendered = [engine.render(item, context) for item in argv]
    for item, text in zip(argv, rendered, strict=True):
        if "\0" in text:
            raise ExpressionError(f"argv element {item!r} rendered to text with a NUL byte")
    return rendered


def shell_template_problems(command: str) -> list[str]:
    """What is wrong with a command's templates, found without a context (validate time).

    Empty when fine. Integer-only positions are checked when the command is rendered.
    """
    scan = scan_command(command)
    problems = list(scan.problems)
    engine = _default_engine()
    for slot in scan.slots:
        try:
            engine.check(slot.source, bare=False)
        except ExpressionError as exc:
            problems.append(str(exc))
    return problems


def shell_references(command: str) -> list[Reference]:
    """The references of every template in a command (``ExpressionEngine.references`` cannot
    read a whole command, whose ``${#x}`` Jinja would take for a comment)."""
    engine = _default_engine()
    found: list[Reference] = []
    for slot in scan_command(command).slots:
        try:
            found += engine.references(slot.source, bare=False)
        except ExpressionError:
            continue  # a template that does not parse is reported on its own; check the others
    return list(dict.fromkeys(found))


def _checked_value(slot: Slot, name: str, value: str) -> str:
    if slot.integer_reason is not None and not _INTEGER.fullmatch(value):
        raise ExpressionError(
            f"template {slot.source} is {slot.integer_reason}, where bash evaluates the value "
            f"as an expression that can run commands; it must be an integer, got {value[:40]!r}"
        )
    if "\0" in value:
        raise ExpressionError(f"template {slot.source} gave a value with a NUL byte")
    size = len(name.encode()) + 1 + len(value.encode("utf-8", "surrogateescape")) + 1
    if size > _MAX_ENV_STRING_BYTES:
        raise ExpressionError(
            f"template {slot.source} gave {size} bytes, more than the {_MAX_ENV_STRING_BYTES} "
            "an environment variable can hold; write large values to a file instead"
        )
    return value


def _rewrite(command: str, scan: Scan, names: dict[int, str]) -> str:
    edits = [(slot.start, slot.end, _REFERENCES[slot.context] % names[slot.start]) for slot in scan.slots]
    for doc in scan.quoted_heredocs:
        edits += _unquote_heredoc(command, doc)
    pieces: list[str] = []
    position = 0
    for start, end, replacement in sorted(edits):
        pieces += [command[position:start], replacement]
        position = end
    pieces.append(command[position:])
    return "".join(pieces)


def _unquote_heredoc(command: str, doc: Heredoc) -> list[tuple[int, int, str]]:
    """Edits turning a quoted heredoc into an unquoted one whose literal text is unchanged."""
    edits = [(doc.word_start, doc.word_end, doc.delimiter)]
    literal_start = doc.body_start
    for start, end in [*sorted((slot.start, slot.end) for slot in doc.slots), (doc.body_end, doc.body_end)]:
        edits += [
            (index, index + 1, _HEREDOC_ESCAPES[command[index]])
            for index in range(literal_start, start)
            if command[index] in _HEREDOC_ESCAPES
        ]
        literal_start = end
    return edits


@functools.cache
def _default_engine() -> ExpressionEngine:
    # Syntax checks and references need no functions or context: one shared engine will do.
    return ExpressionEngine()
