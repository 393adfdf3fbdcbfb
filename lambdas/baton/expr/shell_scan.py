"""A bash-aware scanner: where each ``{{ }}`` of a command sits, and in which quoting context.

It follows the parts of bash's grammar that decide how text is interpreted - quotes,
``$( )``, backquotes, ``${ }``, arithmetic, comments, heredocs, ``case`` patterns and
``[[ ]]`` - and nothing more. It never evaluates a template; see :mod:`baton.expr.shell`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import lru_cache

from jinja2.exceptions import TemplateSyntaxError

from baton.expr.shell_rules import Word, check_command
from baton.expr.syntax import find_template, line_of


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


# Words after which the next word starts a command again.
_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time", "esac"}
)
_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-]")
_SIMPLE_DELIMITER = re.compile(r"[A-Za-z0-9_.,:+=@%^~/-]+")
_METACHARACTERS = " \t\n;&|()<>"
_DOLLAR_BEFORE_TEMPLATE = (
    "'${{' is GitHub Actions syntax; write '{{ ... }}' (for a literal '$' before a value, write '\\$')"
)
_BACKSLASH_BEFORE_TEMPLATE = (
    "a backslash right before a template would escape the quoting Baton puts around the value; remove it"
)


@lru_cache(maxsize=256)
def scan_command(command: str) -> Scan:
    """Scan ``command``; cached, as a run renders the same commands many times."""
    scanner = _Scanner(command)
    try:
        scanner.unquoted(0, "", 0)
    except RecursionError:
        scanner.problems.append("the command nests too deeply to be checked")
    quoted = tuple(doc for doc in scanner.heredocs if doc.quoted and doc.slots)
    return Scan(tuple(sorted(scanner.slots, key=lambda s: s.start)), quoted, tuple(scanner.problems))


@dataclass(eq=False)
class _Level:
    """Word and command state of one nesting level (top, ``$( )``, ``( )``, backquotes)."""

    words: list[Word] = field(default_factory=list)
    slot_words: list[tuple[Slot, int]] = field(default_factory=list)
    word: Word | None = None
    redirect_next: bool = False
    double_bracket: bool = False
    case: list[str] = field(default_factory=list)  # "subject", "in", "pattern", "body"


class _Scanner:
    def __init__(self, src: str) -> None:
        self.src = src
        self.end = len(src)
        self.slots: list[Slot] = []
        self.heredocs: list[Heredoc] = []
        self.pending: list[Heredoc] = []
        self.problems: list[str] = []
        self.level: _Level | None = None
        self.heredoc: Heredoc | None = None
        self.in_backtick = False

    # -- command level --------------------------------------------------------------------

    def unquoted(self, i: int, stop: str, opened: int) -> int:
        """Scan command text until ``stop`` (``)``, a backquote, or the end for "")."""
        saved, self.level = self.level, _Level()
        try:
            while i < self.end:
                char = self.src[i]
                if self.in_backtick and char == "`":
                    self.end_command(i)
                    return i + 1 if stop == "`" else i
                if char == ")" and not self.level.double_bracket:
                    self.end_word(i)  # completes an 'esac' before deciding what ')' closes
                    if self._in_pattern():
                        self.level.case[-1] = "body"
                        self.new_command()
                        i += 1
                        continue
                    if stop == ")":
                        self.end_command(i)
                        return i + 1
                i = self.unquoted_char(i, char)
            self.end_command(i)
            if stop:
                self.unterminated("'$(' or '('" if stop == ")" else "'`'", opened)
            return i
        finally:
            self.level = saved

    def unquoted_char(self, i: int, char: str) -> int:
        src, level = self.src, self.level
        assert level is not None
        if src.startswith("{{", i) or src.startswith("{%", i) or char in "\\'\"$`":
            self.touch(i)
            return self.quoted_char(i, Context.UNQUOTED, in_double=False)
        if char == "#" and level.word is None:
            return self.comment(i)
        if char == "\n":
            if level.double_bracket:
                self.end_word(i)
                return i + 1
            self.end_command(i)
            return self.heredoc_bodies(i + 1) if self.pending else i + 1
        if char in " \t":
            self.end_word(i)
            return i + 1
        if src.startswith("((", i) and level.word is None and not self._in_pattern():
            self.touch(i)
            return self.arithmetic(i + 2, "))", "(( ))")
        if char in ";&|()<>":
            return self.operator(i, char)
        self.touch(i)
        return i + 1

    def operator(self, i: int, char: str) -> int:
        src, level = self.src, self.level
        assert level is not None
        two = src[i : i + 2]
        if level.double_bracket and (two in ("&&", "||") or char in "()<>"):
            length = 2 if two in ("&&", "||") else 1
            self.end_word(i)
            level.words.append(Word(i, i + length, "operator"))
            return i + length
        if self._in_pattern():
            self.end_word(i)  # an 'esac' ends the case, and this is an operator again
            if self._in_pattern():
                return i + 1  # '|' between patterns, the optional '(' before one
        if src.startswith("<<", i) and not src.startswith("<<<", i):
            self.end_word(i)
            return self.heredoc_operator(i)
        if char in "<>" or two == "&>":
            self.end_word(i)
            level.redirect_next = True
            j = i + (2 if two == "&>" else 1)
            return j + 1 if src[j : j + 1] in ("<", ">", "&", "|") else j
        if char == "(":
            word = level.word
            if word is None or not src[word.start : i].endswith("="):
                self.end_word(i)  # a subshell or function parens; 'a=(...)' stays one word
            return self.unquoted(i + 1, ")", i)
        if char == ";" and level.case and level.case[-1] == "body" and src[i : i + 2] in (";;", ";&"):
            self.end_command(i)
            level.case[-1] = "pattern"
            return i + (3 if src.startswith(";;&", i) else 2)
        self.end_command(i)  # ';', '&', '|', '&&', '||', a stray ')'
        return i + 1

    # -- words and commands ---------------------------------------------------------------

    def touch(self, i: int) -> None:
        level = self.level
        if level is not None and level.word is None:
            level.word = Word(i, kind="redirect" if level.redirect_next else "word")
            level.redirect_next = False

    def end_word(self, i: int) -> None:
        level = self.level
        if level is None or level.word is None:
            return
        word, level.word = level.word, None
        word.end = i
        level.words.append(word)
        self.after_word(level, word, self.src[word.start : i])

    def after_word(self, level: _Level, word: Word, text: str) -> None:
        state = level.case[-1] if level.case else ""
        if state in ("subject", "in", "pattern"):
            if state == "subject":
                level.case[-1] = "in"
            elif text == "in" and state == "in":
                level.case[-1] = "pattern"
            elif text == "esac" and state == "pattern":
                level.case.pop()
            self.new_command()
            return
        if word.kind == "word" and len(level.words) == 1:
            if text == "[[":
                level.double_bracket = True
            elif text in _RESERVED or text == "case":
                if text == "esac" and state == "body":
                    level.case.pop()
                if text == "case":
                    level.case.append("subject")
                self.new_command()
        elif level.double_bracket and text == "]]":
            level.double_bracket = False

    def end_command(self, i: int) -> None:
        self.end_word(i)
        level = self.level
        if level is None:
            return
        for finding in check_command(self.src, level.words, level.slot_words):
            if finding.integer_only:
                finding.slot.integer_reason = finding.slot.integer_reason or finding.message
            else:
                self.problem(finding.slot.start, finding.message)
        self.new_command()

    def new_command(self) -> None:
        if self.level is not None:
            self.level.words, self.level.slot_words = [], []
            self.level.double_bracket = False

    def _in_pattern(self) -> bool:
        return self.level is not None and bool(self.level.case) and self.level.case[-1] == "pattern"

    # -- quoting contexts -----------------------------------------------------------------

    def quoted_char(
        self, i: int, context: Context, *, in_double: bool, single_quotes: bool | None = None
    ) -> int:
        """The characters every context but single quotes treats alike: templates, ``{%``,
        backslash, quotes, ``$`` and backquotes. Returns the position after what it read.

        ``in_double``: inside double quotes. ``single_quotes``: whether ``'`` quotes (by
        default, when not in double quotes).
        """
        src, char = self.src, self.src[i]
        if src.startswith("{{", i):
            return self.slot(i, context)
        if src.startswith("{%", i):
            self.problem(
                i, "'{% %}' blocks are not allowed in a command; compute the value in an expression and use '{{ }}'"
            )
            return i + 2
        if char == "\\":
            if src.startswith("{{", i + 1):
                self.problem(i, _BACKSLASH_BEFORE_TEMPLATE)
                return i + 1
            return i + 2
        if char == "'" and (not in_double if single_quotes is None else single_quotes):
            return self.single(i + 1, i)
        if char == '"':
            return self.double(i + 1, i)
        if char == "$":
            # Inside ${...}, even within double quotes, bash reads $'...' as ANSI-C quoting.
            ansi_c = not in_double or context is Context.PARAMETER
            return self.dollar(i, in_double=in_double, ansi_c=ansi_c)
        if char == "`":
            return self.backtick(i + 1, i)
        return i + 1

    def double(self, i: int, opened: int) -> int:
        while i < self.end:
            char = self.src[i]
            if char == '"' or (self.in_backtick and char == "`"):
                return i + 1 if char == '"' else i
            i = self.quoted_char(i, Context.DOUBLE, in_double=True)
        self.unterminated("'\"'", opened)
        return i

    def single(self, i: int, opened: int, context: Context = Context.SINGLE) -> int:
        src = self.src
        while i < self.end:
            char = src[i]
            if self.in_backtick and char == "`":
                return i
            if char == "'":
                return i + 1
            if char == "\\" and (context is Context.ANSI_C or (self.in_backtick and src.startswith("`", i + 1))):
                if context is Context.ANSI_C and src.startswith("{{", i + 1):
                    self.problem(i, _BACKSLASH_BEFORE_TEMPLATE)
                    i += 1
                    continue
                i += 2
                continue
            if src.startswith("{{", i):
                i = self.slot(i, context)
                continue
            if src.startswith("{%", i):
                self.problem(i, "'{% %}' blocks are not allowed in a command")
            i += 1
        self.unterminated('"\'"', opened)
        return i

    def dollar(self, i: int, *, in_double: bool, ansi_c: bool) -> int:
        src = self.src
        after = src[i + 1 : i + 2]
        if src.startswith("$((", i):
            return self.arithmetic(i + 3, "))", "$(( ))")
        if after == "(":
            return self.unquoted(i + 2, ")", i)
        if src.startswith("${{", i):
            self.problem(i, _DOLLAR_BEFORE_TEMPLATE)
            return i + 1
        if after == "{":
            return self.parameter(i + 2, i, in_double=in_double)
        if after == "[":
            return self.arithmetic(i + 2, "]", "$[ ]")
        if after == "'" and ansi_c:
            return self.single(i + 2, i, Context.ANSI_C)
        if after == '"' and not in_double:
            return self.double(i + 2, i)
        return i + 1

    def backtick(self, i: int, opened: int) -> int:
        saved, self.in_backtick = self.in_backtick, True
        try:
            return self.unquoted(i, "`", opened)
        finally:
            self.in_backtick = saved

    def parameter(self, i: int, opened: int, *, in_double: bool) -> int:
        """``${...}`` after its ``${``: name, optional subscript, then operator and word."""
        src = self.src
        j = i + 1 if src[i : i + 1] in ("#", "!") else i
        name = _PARAMETER_NAME.match(src, j)
        j = name.end() if name else j
        if src.startswith("{{", j):
            self.problem(j, "a template cannot be (part of) a parameter name")
        if src.startswith("[", j):
            j = self.arithmetic(j + 1, "]", "an array subscript")
        if src.startswith(":", j) and src[j + 1 : j + 2] not in ("-", "=", "?", "+"):
            return self.arithmetic(j + 1, "}", "a ${var:offset:length} substring")
        # Within double quotes, bash honours single quotes in the pattern of '#', '%', '/',
        # '^', ',' but keeps them as text in the word of '-', '=', '?', '+'.
        single_quotes = not in_double or src[j : j + 1] in ("#", "%", "/", "^", ",")
        while j < self.end:
            char = src[j]
            if char == "}" or (self.in_backtick and char == "`"):
                return j + 1 if char == "}" else j
            j = self.quoted_char(
                j, Context.PARAMETER, in_double=in_double, single_quotes=single_quotes
            )
        self.unterminated("'${'", opened)
        return j

    def arithmetic(self, i: int, closer: str, what: str) -> int:
        src, opened, depth = self.src, i, 0
        while i < self.end:
            char = src[i]
            if self.in_backtick and char == "`":
                return i
            if depth == 0 and src.startswith(closer, i):
                return i + len(closer)
            if char in "([":
                depth += 1
            elif char in ")]":
                depth = max(depth - 1, 0)
            elif src.startswith("{{", i):
                i = self.slot(i, Context.ARITHMETIC, f"{what} (arithmetic)")
                continue
            elif char in "{\\'\"$`":
                i = self.quoted_char(i, Context.ARITHMETIC, in_double=False)
                continue
            i += 1
        self.unterminated(f"'{what}'", opened)
        return i

    def comment(self, i: int) -> int:
        src = self.src
        while i < self.end and src[i] != "\n":
            if self.in_backtick and src[i] == "`":
                return i
            if src.startswith("{{", i):
                i = self.slot(i, Context.COMMENT)
                continue
            if src.startswith("{%", i):
                self.problem(i, "'{% %}' blocks are not allowed in a command")
            i += 1
        return i

    # -- heredocs -------------------------------------------------------------------------

    def heredoc_operator(self, i: int) -> int:
        src = self.src
        j = i + 2
        strip_tabs = src.startswith("-", j)
        j += strip_tabs
        while j < self.end and src[j] in " \t":
            j += 1
        start, parts, quoted = j, [], False
        while j < self.end and src[j] not in _METACHARACTERS:
            if src.startswith("{{", j):
                self.problem(j, "a template cannot be a heredoc delimiter")
                return j
            if src[j] in "'\"":
                close = src.find(src[j], j + 1)
                close = self.end if close < 0 else close
                parts.append(src[j + 1 : close])
                quoted, j = True, close + 1
            elif src[j] == "\\":
                parts.append(src[j + 1 : j + 2])
                quoted, j = True, j + 2
            else:
                parts.append(src[j])
                j += 1
        if j > start:
            doc = Heredoc(start, min(j, self.end), "".join(parts), quoted, strip_tabs)
            self.pending.append(doc)
            self.heredocs.append(doc)
        return j

    def heredoc_bodies(self, i: int) -> int:
        pending, self.pending = self.pending, []
        for doc in pending:
            i = self.heredoc_body(doc, i)
        return i

    def heredoc_body(self, doc: Heredoc, i: int) -> int:
        src, position, continued = self.src, i, False
        doc.body_start = i
        while position < self.end:
            line_end = self.line_end(position)
            line = src[position:line_end]
            candidate = line.lstrip("\t") if doc.strip_tabs else line
            if candidate == doc.delimiter and not continued:
                doc.body_end = position
                self.scan_body(doc)
                return min(line_end + 1, self.end)
            # In an unquoted heredoc a trailing backslash joins the next line to this one.
            continued = not doc.quoted and (len(line) - len(line.rstrip("\\"))) % 2 == 1
            position = line_end + 1
        doc.body_end = self.end
        self.scan_body(doc)
        if doc.slots:
            self.problem(doc.word_start, f"heredoc '{doc.delimiter}' is never terminated")
        return self.end

    def line_end(self, position: int) -> int:
        """End of the line at ``position``; a template spanning lines counts as one line."""
        src = self.src
        while True:
            newline = src.find("\n", position, self.end)
            newline = self.end if newline < 0 else newline
            brace = src.find("{{", position, newline)
            if brace < 0:
                return newline
            try:
                position = find_template(src, brace).end
            except TemplateSyntaxError:
                return newline

    def scan_body(self, doc: Heredoc) -> None:
        saved = self.end, self.level, self.heredoc
        self.end, self.level, self.heredoc = doc.body_end, None, doc
        try:
            i = doc.body_start
            while i < self.end:
                if doc.quoted:
                    i = self.slot(i, Context.QUOTED_HEREDOC) if self.src.startswith("{{", i) else i + 1
                elif self.src[i] == '"':
                    i += 1  # quotes are plain text in a heredoc body
                else:
                    i = self.quoted_char(i, Context.HEREDOC, in_double=True)
        finally:
            self.end, self.level, self.heredoc = saved
        if doc.quoted and doc.slots and not _SIMPLE_DELIMITER.fullmatch(doc.delimiter):
            self.problem(
                doc.word_start,
                f"heredoc delimiter {doc.delimiter!r} must be a simple word when its body holds templates",
            )

    # -- templates and problems -----------------------------------------------------------

    def slot(self, i: int, context: Context, integer_reason: str | None = None) -> int:
        try:
            span = find_template(self.src, i)
        except TemplateSyntaxError as exc:
            self.problem(i, exc.message or "invalid template")
            return self.end
        if span.end > self.end:
            self.problem(i, "a template cannot span the end of a heredoc")
        if span.whitespace_control:
            self.problem(i, "whitespace control ('{{-', '-}}') is not supported in a command")
        slot = Slot(i, span.end, self.src[i : span.end], context, integer_reason)
        self.slots.append(slot)
        if self.heredoc is not None:
            self.heredoc.slots.append(slot)
        if self.level is not None and context is not Context.COMMENT:
            self.touch(i)
            self.level.slot_words.append((slot, len(self.level.words)))
        return span.end

    def unterminated(self, what: str, opened: int) -> None:
        # Bash reports its own syntax error; only a template inside the unclosed part is ours.
        if any(slot.start > opened for slot in self.slots):
            self.problem(opened, f"{what} is never closed, so the templates after it cannot be placed safely")

    def problem(self, i: int, message: str) -> None:
        self.problems.append(f"line {line_of(self.src, i)}: {message}")
