"""Finding ``{{ ... }}`` templates inside text that is not itself a Jinja template.

Bare expressions and shell commands are not rendered as whole Jinja templates, but the
``{{ ... }}`` parts inside them are found with Jinja's own lexer, so where a template ends is
decided exactly as Jinja decides it (``{{ {'a': {'b': 1}} }}`` and ``{{ "}}" }}`` included).
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import Environment
from jinja2.exceptions import TemplateSyntaxError

# Only the lexer is used, with the default delimiters every Baton environment uses.
_LEXER = Environment(keep_trailing_newline=True).lexer


@dataclass(frozen=True)
class TemplateSpan:
    """One ``{{ ... }}`` found in a text: ``text[start:end]`` is the whole template."""

    start: int
    end: int
    inner: str
    #: ``{{-`` / ``-}}`` / ``+}}`` markers, which only make sense in a rendered template.
    whitespace_control: bool


def find_template(text: str, start: int) -> TemplateSpan:
    """Return the template that opens with ``{{`` at ``text[start]``.

    Raises ``TemplateSyntaxError`` when it never closes or is not lexically valid.
    """
    length = 0
    begin = ""
    try:
        for _lineno, token, value in _LEXER.tokeniter(text[start:], None):
            if token == "variable_begin":
                begin = value
            if token == "variable_end":
                closing = value.rstrip()  # '-}}' swallows the whitespace after it
                end = start + length + len(closing)
                inner = text[start + len(begin) : end - len(closing)]
                control = begin != "{{" or closing != "}}"
                return TemplateSpan(start, end, inner, control)
            length += len(value)
    except TemplateSyntaxError as exc:
        raise _syntax_error(f"{exc.message}, in the template opened", text, start) from exc
    raise _syntax_error("'}}' missing: the template opened", text, start)


def substitute_bare_templates(expression: str) -> str:
    """Replace each ``{{ e }}`` in a bare expression by ``(e)``.

    The value of ``e`` is then an operand of the surrounding expression: an input holding
    ``1 or true`` is compared as that string, it cannot add an ``or`` to the expression.
    ``{{`` inside a string literal of the expression is left alone.
    """
    parts: list[str] = []
    quote = ""
    index = 0
    while index < len(expression):
        char = expression[index]
        if quote:
            if char == "\\":
                parts.append(expression[index : index + 2])
                index += 2
                continue
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif expression.startswith("{{", index):
            span = find_template(expression, index)
            if span.whitespace_control:
                raise _syntax_error(
                    "whitespace control ('{{-', '-}}') has no meaning in an expression: the template opened",
                    expression,
                    index,
                )
            if not span.inner.strip():
                raise _syntax_error("empty template opened", expression, index)
            parts.append(f"({span.inner})")
            index = span.end
            continue
        parts.append(char)
        index += 1
    return "".join(parts)


def line_of(text: str, offset: int) -> int:
    """1-based line number of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1


def _syntax_error(what: str, text: str, offset: int) -> TemplateSyntaxError:
    return TemplateSyntaxError(f"{what} at offset {offset}", line_of(text, offset))
