"""Simple commands: bash builtins and operators that read a *value* as code.

Passing values through environment variables keeps them out of the script's syntax, but a
few bash constructs evaluate an expanded value again: arithmetic (``[[ $v -eq 1 ]]``, array
subscripts, ``let``) runs ``a[$(cmd)]``; builtins that take a variable *name* (``declare``,
``read``, ``printf -v``, ``test -v``, ``unset``) evaluate subscripts inside it; ``eval`` and
``trap``, ``alias``, ``mapfile -C`` and ``bash -c`` run their arguments; variables declared
``-i`` evaluate every value assigned to them; ``PS4`` (with ``set -x``), ``PS1``,
``PROMPT_COMMAND`` and ``BASH_ENV`` are expanded or run as code. This module finds templates
used directly in those positions (command names are compared after quote removal, so
``"eval"``, ``\\eval`` and ``e''val`` are ``eval``; a ``$( )`` inside a word counts as part of
that word), so they are refused (or limited to integers) before anything runs. A value that
reaches such a construct through the script's own variables is the script's responsibility.

Associative arrays are the exception to "subscripts are arithmetic": ``m[{{ k }}]=1`` and
``${m[{{ k }}]}`` take ``k`` as a plain string key when ``m`` is surely associative at that
point - declared ``declare -A m`` (or ``typeset -A``) earlier at the top level of the script,
unconditionally (not inside a function, brace group, loop, ``if`` or ``&&``/``||`` list), and
never ``unset``, re-declared otherwise or given a name by ``local``.

:class:`CommandTracker` follows the words of the simple command being read at one nesting
level (``case`` patterns and ``[[ ]]`` included) so these rules know each template's word.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from baton.expr.shell_findings import (
    CODE_VARIABLES,
    Finding,
    ShellFacts,
    Word,
    integer_only,
    names_variable,
    refused,
)
from baton.expr.shell_model import Slot
from baton.expr.shell_options import OPTION_RULES, optioned, shell_command_string

ARITHMETIC_TEST_OPERATORS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_CODE_BUILTINS = frozenset({"eval", "trap", "alias"})
_SHELLS = frozenset({"bash", "sh", "dash", "zsh", "ksh", "mksh"})
_DECLARATIONS = frozenset({"declare", "typeset", "local", "export", "readonly"})
# Words that run the command after them (``command eval x`` is ``eval x``).
_PREFIXES = frozenset({"command", "builtin", "coproc", "exec", "nohup"})


_NAME_OPTION = {"test": ("-v", "-R"), "[": ("-v", "-R")}
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[.*\])?\+?=", re.DOTALL)
_SUBSCRIPT_START = re.compile(r"""['"]*[A-Za-z_][A-Za-z0-9_]*['"]*\[|\[""")


# Words after which the next word starts a command again.
_RESERVED = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time", "coproc"}
)
_OPENERS = frozenset({"if", "while", "until", "for", "select", "{", "case"})
_CLOSERS = frozenset({"fi", "done", "}", "esac"})
_JOINERS = ("&&", "||", "|")


class CommandTracker:
    """The words of the simple command being read at one nesting level (the top, ``$( )``,
    ``( )``, backquotes), and where a ``case`` statement or ``[[ ]]`` is in it."""

    def __init__(self, src: str, facts: ShellFacts | None = None, *, top: bool = False) -> None:
        self.src = src
        self.facts = facts if facts is not None else ShellFacts()
        self.top = top  # the script's own level, not inside $( ), ( ) or backquotes
        self.depth = 0  # open compound commands (if, loops, braces, case) at this level
        self.joined_before = False  # the command follows '&&', '||' or '|'
        self.function_next = False  # the word just read was 'function': a name follows
        self.words: list[Word] = []
        self.slot_words: list[tuple[Slot, int]] = []
        self.word: Word | None = None  # the word being read
        self.redirect_next = False
        self.double_bracket = False
        self.case: list[str] = []  # per open case: "subject", "in", "pattern" or "body"

    @property
    def in_pattern(self) -> bool:
        """Reading a ``case`` pattern, where ``)`` ends the pattern, not a subshell."""
        return bool(self.case) and self.case[-1] == "pattern"

    def touch(self, i: int) -> None:
        """A character of a word at ``i``: starts a word unless one is being read."""
        if self.word is None:
            self.word = Word(i, kind="redirect" if self.redirect_next else "word")
            self.redirect_next = False

    def add_slot(self, slot: Slot) -> None:
        """A template in the word being read."""
        self.touch(slot.start)
        self.slot_words.append((slot, len(self.words)))

    def add_operator(self, i: int, length: int) -> None:
        """``&&``, ``(``, ``<``... inside ``[[ ]]``: a word of its own."""
        self.end_word(i)
        self.words.append(Word(i, i + length, "operator"))

    def redirect(self, i: int) -> None:
        """A redirection operator: the next word is its target, not an argument."""
        self.end_word(i)
        self.redirect_next = True

    def end_word(self, i: int) -> None:
        """The word being read, if any, ends before ``i``."""
        word, self.word = self.word, None
        if word is None:
            return
        word.end = i
        self.words.append(word)
        self._after_word(word, self.src[word.start : i])

    def end_pattern(self, i: int) -> None:
        """The ``)`` closing a ``case`` pattern: its commands follow."""
        self.end_word(i)
        self.case[-1] = "body"
        self._start_command()

    def end_case_item(self, i: int) -> list[Finding]:
        """``;;``, ``;&`` or ``;;&``: the next ``case`` pattern follows."""
        findings = self.end_command(i)
        if self.case and self.case[-1] == "body":  # an 'esac' just before may have closed it
            self.case[-1] = "pattern"
        return findings

    def end_command(self, i: int) -> list[Finding]:
        """The simple command ends before ``i``: the findings for its templates."""
        self.end_word(i)
        if not self.words:  # e.g. between the two characters of '&&'
            self.joined_before = self.joined_before or self.src.startswith(_JOINERS, i)
            return []
        joined_after = self.src.startswith(_JOINERS, i) or (
            self.src.startswith("&", i) and not self.src.startswith("&>", i)
        )
        standalone = self.top and self.depth == 0 and not self.joined_before and not joined_after
        findings = check_command(self.src, self.words, self.slot_words, self.facts, standalone=standalone)
        self.joined_before = self.src.startswith(_JOINERS, i)
        self._start_command()
        return findings

    def _start_command(self) -> None:
        self.words, self.slot_words, self.double_bracket = [], [], False

    def _after_word(self, word: Word, text: str) -> None:
        state = self.case[-1] if self.case else ""
        if state in ("subject", "in", "pattern"):
            if state == "subject":
                self.case[-1] = "in"
            elif state == "in" and text == "in":
                self.case[-1] = "pattern"
            elif state == "pattern" and text == "esac":
                self.case.pop()
            self._start_command()
        elif self.function_next and word.kind == "word":
            self.function_next = False  # 'function NAME': the body starts a command again
            self._start_command()
        elif word.kind == "word" and len(self.words) == 1:
            self.depth += (text in _OPENERS) - (text in _CLOSERS and self.depth > 0)
            if text == "[[":
                self.double_bracket = True
            elif text == "function":
                self.function_next = True
            elif text in _RESERVED or text in ("case", "esac"):
                if text == "esac" and state == "body":
                    self.case.pop()
                elif text == "case":
                    self.case.append("subject")
                self._start_command()
        elif self.double_bracket and text == "]]":
            self.double_bracket = False


def check_command(
    src: str,
    words: Sequence[Word],
    slot_words: Sequence[tuple[Slot, int]],
    facts: ShellFacts | None = None,
    *,
    standalone: bool = False,
) -> list[Finding]:
    """Findings for the templates of one simple command (``slot_words``: slot, word index).

    ``standalone``: the command runs unconditionally at the script's top level, so what it
    declares holds for the lines after it.
    """
    facts = facts if facts is not None else ShellFacts()
    by_word: dict[int, list[Slot]] = defaultdict(list)
    for slot, index in slot_words:
        by_word[index].append(slot)
    texts = [src[word.start : word.end] for word in words]
    findings = _assignment_subscripts(words, texts, by_word, facts)
    plain = [index for index, word in enumerate(words) if word.kind == "word"]
    if not plain:
        return findings
    if texts[plain[0]] == "[[":
        return findings + _double_bracket(texts, words, by_word)
    # The command name is the first word that is not a leading 'NAME=value' assignment.
    first = next((n for n, index in enumerate(plain) if not _ASSIGNMENT.match(texts[index])), None)
    assignments = plain[:first] if first is not None else plain
    if first is not None and unquoted_name(texts[plain[first]]) in _DECLARATIONS:
        assignments += plain[first + 1 :]
    findings += _assignment_values(assignments, words, texts, by_word, facts)
    if first is None:
        return findings
    while first + 1 < len(plain) and unquoted_name(texts[plain[first]]) in _PREFIXES:
        first += 1
    name, args = unquoted_name(texts[plain[first]]), plain[first + 1 :]
    if name in _DECLARATIONS or name == "unset":
        _learn(name, args, texts, facts, standalone=standalone)
    return findings + _builtin(name, args, texts, words, by_word, facts=facts)


def unquoted_name(text: str) -> str:
    """A command word after quote removal: ``"eval"``, ``\\eval`` and ``e''val`` are ``eval``."""
    text = re.sub(r"\$(?=['\"])", "", text)
    return re.sub(r"\\(.)", r"\1", text.replace("'", "").replace('"', ""))


def _learn(name: str, args: list[int], texts: list[str], facts: ShellFacts, *, standalone: bool) -> None:
    """Record what a declaration or ``unset`` says about the variables it names."""
    options = "".join(texts[index][1:] for index in args if texts[index][:1] in ("-", "+"))
    for index in args:
        if texts[index][:1] in ("-", "+"):
            continue
        variable = re.split(r"[=\[+]", texts[index], maxsplit=1)[0]
        if name == "unset":
            facts.not_associative.add(variable)
            continue
        if "i" in options and not texts[index].startswith("+"):
            facts.integer_names.add(variable)
        qualifies = standalone and name in ("declare", "typeset") and "A" in options and "+A" not in options
        if qualifies:
            facts.associative.add(variable)
        else:
            facts.not_associative.add(variable)


def _builtin(
    name: str,
    args: list[int],
    texts: list[str],
    words: Sequence[Word],
    by_word: dict[int, list[Slot]],
    *,
    facts: ShellFacts,
) -> list[Finding]:
    arg_slots = [slot for index in args for slot in by_word.get(index, [])]
    if name in _CODE_BUILTINS:
        return [refused(slot, f"is an argument of `{name}`, which runs it as shell code") for slot in arg_slots]
    if name in _SHELLS:
        return shell_command_string(name, args, texts, by_word)
    if name == "let":
        return [integer_only(slot, "an argument of `let` (arithmetic)") for slot in arg_slots]
    if name == "unset":
        return [names_variable(slot, name) for slot in arg_slots]
    if name == "getopts":
        operands = [index for index in args if not texts[index].startswith("-")]
        return [names_variable(slot, name) for slot in by_word.get(operands[1], [])] if len(operands) > 1 else []
    if name in _DECLARATIONS:
        return _declaration(name, args, texts, words, by_word)
    if name in _NAME_OPTION:
        targets = [index + 1 for index in args if texts[index] in _NAME_OPTION[name]]
        return [names_variable(slot, name) for index in targets for slot in by_word.get(index, [])]
    if name in OPTION_RULES:
        return optioned(name, args, texts, words, by_word, facts=facts)
    return []


def _double_bracket(texts: list[str], words: Sequence[Word], by_word: dict[int, list[Slot]]) -> list[Finding]:
    findings: list[Finding] = []
    for index, text in enumerate(texts):
        if words[index].kind != "word":
            continue
        if text in ARITHMETIC_TEST_OPERATORS:
            for operand in (index - 1, index + 1):
                reason = f"an operand of `{text}` in [[ ]] (arithmetic)"
                findings += [integer_only(slot, reason) for slot in by_word.get(operand, [])]
        elif text in ("-v", "-R"):
            findings += [names_variable(slot, f"[[ {text} ]]") for slot in by_word.get(index + 1, [])]
    return findings


def _declaration(
    name: str,
    args: list[int],
    texts: list[str],
    words: Sequence[Word],
    by_word: dict[int, list[Slot]],
) -> list[Finding]:
    options = "".join(texts[index][1:] for index in args if texts[index][:1] in ("-", "+"))
    findings: list[Finding] = []
    for index in args:
        if texts[index][:1] in ("-", "+"):
            continue
        equals = texts[index].find("=")
        for slot in by_word.get(index, []):
            in_name = equals < 0 or slot.start - words[index].start < equals
            if in_name or "n" in options:  # a nameref's value is a variable name too
                findings.append(names_variable(slot, name))
            elif "i" in options:
                findings.append(integer_only(slot, f"the value of an integer variable (`{name} -i`)"))
    return findings


def _assignment_subscripts(
    words: Sequence[Word], texts: list[str], by_word: dict[int, list[Slot]], facts: ShellFacts
) -> list[Finding]:
    findings: list[Finding] = []
    for index, slots in by_word.items():
        span = _subscript_span(texts[index]) if index < len(texts) else None
        if span is None or facts.is_associative(texts[index][: span[0]]):
            continue
        for slot in slots:
            if span[0] < slot.start - words[index].start < span[1]:
                findings.append(integer_only(slot, "an array subscript in an assignment (arithmetic)"))
    return findings


def _assignment_values(
    assignments: list[int],
    words: Sequence[Word],
    texts: list[str],
    by_word: dict[int, list[Slot]],
    facts: ShellFacts,
) -> list[Finding]:
    """Templates in the value of ``NAME=`` where bash evaluates the value: an integer variable
    (arithmetic) or a prompt/code variable such as ``PS4`` (run as code)."""
    findings: list[Finding] = []
    for index in assignments:
        match = _ASSIGNMENT.match(texts[index])
        slots = by_word.get(index, [])
        if match is None or not slots:
            continue
        variable = re.split(r"[\[+=]", match.group(0), maxsplit=1)[0]
        value_slots = [slot for slot in slots if slot.start - words[index].start >= match.end()]
        if variable in CODE_VARIABLES:
            why = f"is assigned to `{variable}`, which bash expands or runs as code"
            findings += [refused(slot, why) for slot in value_slots]
        elif facts.is_integer(variable):
            reason = f"the value of an integer variable (`{variable}` is declared -i)"
            findings += [integer_only(slot, reason) for slot in value_slots]
    return findings


def _subscript_span(text: str) -> tuple[int, int] | None:
    """``(index of '[', index of ']')`` for ``name[...]=`` or ``[...]=`` words."""
    match = _SUBSCRIPT_START.match(text)
    if match is None:
        return None
    closes = [at for at in (text.find("]=", match.end()), text.find("]+=", match.end())) if at >= 0]
    return (match.end() - 1, min(closes)) if closes else None
