"""A bash-aware scanner: where each ``{{ }}`` of a command sits, and in which quoting context.

It follows the parts of bash's grammar that decide how text is interpreted - quotes,
``$( )``, backquotes, ``${ }``, arithmetic, comments, heredocs, ``case`` patterns and
``[[ ]]`` - and nothing more. It never evaluates a template; see :mod:`baton.expr.shell`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2.exceptions import TemplateSyntaxError

from baton.expr.shell_commands import CommandTracker
from baton.expr.shell_findings import Finding, ShellFacts
from baton.expr.shell_model import Context, Heredoc, Scan, Slot, read_heredoc_word
from baton.expr.syntax import find_template, line_of

_PARAMETER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-]")
_SIMPLE_DELIMITER = re.compile(r"[A-Za-z0-9_.,:+=@%^~/-]+")
_METACHARACTERS = " \t\n;&|()<>"
_DOLLAR_BEFORE_TEMPLATE = (
    "'${{' is GitHub Actions syntax; write '{{ ... }}' (for a literal '$' before a value, write '\\$')"
)
_BACKSLASH_BEFORE_TEMPLATE = (
    "a backslash right before a template would escape the quoting Baton puts around the value; remove it"
)
_BLOCK = "'{% %}' blocks are not allowed in a command; compute the value in an expression"


@lru_cache(maxsize=256)
def scan_command(command: str) -> Scan:
    """Scan ``command``; cached, as a run renders the same commands many times.

    A second pass runs when the script declares integer variables or disqualifies
    associative arrays, so that a use before the declaration in the text is judged too.
    """
    scanner = _Scanner(command, ShellFacts())
    scanner.run()
    if scanner.facts.needs_second_pass:
        scanner = _Scanner(command, ShellFacts(prior=scanner.facts))
        scanner.run()
    quoted = tuple(doc for doc in scanner.heredocs if doc.quoted and doc.slots)
    return Scan(tuple(sorted(scanner.slots, key=lambda s: s.start)), quoted, tuple(scanner.problems))


class _Scanner:
    def __init__(self, src: str, facts: ShellFacts) -> None:
        self.src = src
        self.facts = facts
        self.enclosing: list[CommandTracker] = []  # levels whose current word holds this one
        self.end = len(src)
        self.slots: list[Slot] = []
        self.heredocs: list[Heredoc] = []
        self.pending: list[tuple[Heredoc, CommandTracker | None]] = []
        self.problems: list[str] = []
        self.level: CommandTracker | None = None
        self.heredoc: Heredoc | None = None
        self.in_backtick = False

    def run(self) -> None:
        """Scan the whole command, then check every template was placed."""
        try:
            self.unquoted(0, "", 0)
        except RecursionError:
            self.problems.append("the command nests too deeply to be checked")
        self.check_all_placed()

    # -- command level --------------------------------------------------------------------

    def unquoted(self, i: int, stop: str, opened: int) -> int:
        """Scan command text until ``stop`` (``)``, a backquote, or the end for "")."""
        top = not stop and self.level is None and not self.in_backtick
        level = CommandTracker(self.src, self.facts, top=top)
        # A '$( )' inside a word is part of that word: its templates reach that command too.
        outer = [self.level] if self.level is not None and self.level.word is not None else []
        saved, self.level = self.level, level
        self.enclosing += outer
        try:
            while i < self.end:
                char = self.src[i]
                if self.in_backtick and char == "`":
                    self.apply(level.end_command(i))
                    return i + 1 if stop == "`" else i
                if char == ")" and not level.double_bracket:
                    level.end_word(i)  # an 'esac' first ends its case
                    if level.in_pattern:
                        level.end_pattern(i)
                        i += 1
                        continue
                    if stop == ")":
                        self.apply(level.end_command(i))
                        return i + 1
                i = self.unquoted_char(level, i, char)
            self.apply(level.end_command(i))
            if stop:
                opener = "`" if stop == "`" else self.src[opened : opened + 2].rstrip("(") + "("
                self.unterminated(f"'{opener}'", opened)
            return i
        finally:
            self.level = saved
            del self.enclosing[len(self.enclosing) - len(outer) :]

    def unquoted_char(self, level: CommandTracker, i: int, char: str) -> int:
        src = self.src
        if src.startswith("{{", i) or src.startswith("{%", i) or char in "\\'\"$`":
            level.touch(i)
            return self.quoted_char(i, Context.UNQUOTED, in_double=False)
        if char == "#" and level.word is None:
            return self.comment(i)
        if char == "\n" and not level.double_bracket:
            self.apply(level.end_command(i))
            return self.heredoc_bodies(level, i + 1) if self.pending else i + 1
        if char in " \t\n":
            level.end_word(i)
            return i + 1
        if src.startswith("((", i) and level.word is None and not level.in_pattern:
            level.touch(i)
            return self.arithmetic(i + 2, "))", "(( ))")
        if char in ";&|()<>":
            return self.operator(level, i, char)
        level.touch(i)
        return i + 1

    def operator(self, level: CommandTracker, i: int, char: str) -> int:
        src, two = self.src, self.src[i : i + 2]
        if level.double_bracket and (two in ("&&", "||") or char in "()<>"):
            length = 2 if two in ("&&", "||") else 1
            level.add_operator(i, length)
            return i + length
        if level.in_pattern:
            level.end_word(i)  # an 'esac' ends the case, and this is an operator again
            if level.in_pattern:
                return i + 1  # '|' between patterns, the optional '(' before one
        if src.startswith("<<", i) and not src.startswith("<<<", i):
            level.end_word(i)
            return self.heredoc_operator(i)
        if char in "<>" or two == "&>":
            level.redirect(i)
            j = i + (2 if two == "&>" else 1)
            return j + 1 if src[j : j + 1] in ("<", ">", "&", "|") else j
        if char == "(":
            return self.parenthesis(level, i)
        if two in (";;", ";&") and level.case and level.case[-1] == "body":
            self.apply(level.end_case_item(i))
            return i + (3 if src.startswith(";;&", i) else 2)
        self.apply(level.end_command(i))  # ';', '&', '|', '&&', '||', a stray ')'
        return i + 1

    def parenthesis(self, level: CommandTracker, i: int) -> int:
        word = level.word
        if level.redirect_next or (word is not None and self.src[word.start : i].endswith("=")):
            # '<(...)' / '>(...)' and 'a=(...)' are (parts of) one word of this command.
            level.redirect_next = False
            level.touch(i)
            return self.unquoted(i + 1, ")", i)
        # A subshell or a function's '()': what follows starts a new command.
        self.apply(level.end_command(i))
        end = self.unquoted(i + 1, ")", i)
        self.apply(level.end_command(end))
        return end

    def apply(self, findings: list[Finding]) -> None:
        """Record what the builtin rules found about a command's templates."""
        for finding in findings:
            if finding.integer_only:
                finding.slot.integer_reason = finding.slot.integer_reason or finding.message
            else:
                self.problem(finding.slot.start, finding.message)

    # -- quoting contexts -----------------------------------------------------------------

    def quoted_char(self, i: int, context: Context, *, in_double: bool, single_quotes: bool | None = None) -> int:
        """The characters every context but single quotes treats alike: templates, ``{%``,
        backslash, quotes, ``$`` and backquotes. Returns the position after what it read.

        ``in_double``: inside double quotes. ``single_quotes``: whether ``'`` quotes (by
        default, when not in double quotes).
        """
        src, char = self.src, self.src[i]
        if src.startswith("{{", i):
            return self.slot(i, context)
        if src.startswith("{%", i):
            self.problem(i, _BLOCK)
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
        """``'...'`` or, for ``Context.ANSI_C``, ``$'...'`` (where backslash escapes)."""
        src = self.src
        while i < self.end:
            char = src[i]
            if self.in_backtick and char == "`":
                return i
            if char == "'":
                return i + 1
            backslash = char == "\\" and (
                context is Context.ANSI_C or (self.in_backtick and src.startswith("`", i + 1))
            )
            if backslash and src.startswith("{{", i + 1):
                self.problem(i, _BACKSLASH_BEFORE_TEMPLATE)
            i = i + 2 if backslash and not src.startswith("{{", i + 1) else self.literal_char(i, context)
        self.unterminated('"\'"', opened)
        return i

    def literal_char(self, i: int, context: Context) -> int:
        """A character of text bash does not interpret, where only templates matter."""
        if self.src.startswith("{{", i):
            return self.slot(i, context)
        if self.src.startswith("{%", i):
            self.problem(i, _BLOCK)
        return i + 1

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
        if src.startswith("[", j) and name is not None and self.facts.is_associative(name.group(0)):
            j = self.associative_key(j + 1, opened, in_double=in_double)
        elif src.startswith("[", j):
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
            j = self.quoted_char(j, Context.PARAMETER, in_double=in_double, single_quotes=single_quotes)
        self.unterminated("'${'", opened)
        return j

    def associative_key(self, i: int, opened: int, *, in_double: bool) -> int:
        """The key of ``${m[key]}`` for an associative ``m``: a string, not arithmetic."""
        while i < self.end:
            char = self.src[i]
            if char == "]" or (self.in_backtick and char == "`"):
                return i + 1 if char == "]" else i
            i = self.quoted_char(i, Context.PARAMETER, in_double=in_double)
        self.unterminated("'${'", opened)
        return i

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
        while i < self.end and self.src[i] != "\n":
            if self.in_backtick and self.src[i] == "`":
                return i
            i = self.literal_char(i, Context.COMMENT)
        return i

    # -- heredocs -------------------------------------------------------------------------

    def heredoc_operator(self, i: int) -> int:
        """``<<`` or ``<<-`` at ``i``: read the delimiter word; the body starts after the line."""
        j = i + 3 if self.src.startswith("<<-", i) else i + 2
        while j < self.end and self.src[j] in " \t":
            j += 1
        stops = _METACHARACTERS + ("`" if self.in_backtick else "")
        doc = read_heredoc_word(self.src, j, self.end, stops)
        doc.strip_tabs = self.src.startswith("<<-", i)
        if "{{" in self.src[doc.word_start : doc.word_end]:
            self.problem(j, "a template cannot be (part of) a heredoc delimiter")
        elif doc.word_end > doc.word_start:
            self.pending.append((doc, self.level))
            self.heredocs.append(doc)
        return doc.word_end

    def heredoc_bodies(self, level: CommandTracker, i: int) -> int:
        """Read the bodies of the heredocs opened on the line that ends at ``i - 1``."""
        pending, self.pending = self.pending, []
        for doc, owner in pending:
            i = self.heredoc_body(doc, i)
            if owner is not level and doc.slots:
                # Bash's handling of a body outside the $( ) or backquotes holding its '<<'
                # varies; the templates' context would be a guess.
                self.problem(doc.word_start, "a heredoc opened inside $( ) or `...` must end there")
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
                    i = self.literal_char(i, Context.QUOTED_HEREDOC)
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
            self.level.add_slot(slot)
            for outer in self.enclosing:
                outer.add_slot(slot)
        return span.end

    def check_all_placed(self) -> None:
        """Every ``{{`` must belong to a template the scan placed: Jinja would treat each one
        as a template, so one left in the script would be a value silently not rendered."""
        covered = [(slot.start, slot.end) for slot in self.slots]
        start = self.src.find("{{")
        while start >= 0:
            if not any(low <= start < high for low, high in covered):
                self.problem(start, "this template is inside something the command scanner cannot follow")
                return
            start = self.src.find("{{", start + 2)

    def unterminated(self, what: str, opened: int) -> None:
        # Bash reports its own syntax error; only a template inside the unclosed part is ours.
        if any(slot.start > opened for slot in self.slots):
            self.problem(opened, f"{what} is never closed, so the templates after it cannot be placed safely")

    def problem(self, i: int, message: str) -> None:
        self.problems.append(f"line {line_of(self.src, i)}: {message}")
