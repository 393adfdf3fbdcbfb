"""Simple commands: bash builtins and operators that read a *value* as code.

Passing values through environment variables keeps them out of the script's syntax, but a
few bash constructs evaluate an expanded value again: arithmetic (``[[ $v -eq 1 ]]``, array
subscripts, ``let``) runs ``a[$(cmd)]``; builtins that take a variable *name* (``declare``,
``read``, ``printf -v``, ``test -v``, ``unset``) evaluate subscripts inside it; ``eval`` and
``trap`` run their arguments. This module finds templates used directly in those positions,
so they are refused (or limited to integers) before anything runs. A value that reaches such
a construct through the script's own variables is the script's responsibility.

:class:`CommandTracker` follows the words of the simple command being read at one nesting
level (``case`` patterns and ``[[ ]]`` included) so these rules know each template's word.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from baton.expr.shell_model import Slot

ARITHMETIC_TEST_OPERATORS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})
_CODE_BUILTINS = frozenset({"eval", "trap"})
_DECLARATIONS = frozenset({"declare", "typeset", "local", "export", "readonly"})
# Options taking an argument, per builtin whose other arguments are variable names.
_NAME_BUILTIN_OPTIONS = {"read": "dinNptu", "mapfile": "dnOsuCc", "readarray": "dnOsuCc"}
_NAME_OPTION = {"printf": ("-v",), "test": ("-v", "-R"), "[": ("-v", "-R")}
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\[.*\])?\+?=", re.DOTALL)
_SUBSCRIPT_START = re.compile(r"""['"]*[A-Za-z_][A-Za-z0-9_]*['"]*\[|\[""")


@dataclass(eq=False)
class Word:
    """One word of a simple command: ``src[start:end]``; ``kind`` is ``word``, ``redirect``
    (the target of ``>``) or ``operator`` (``&&``, ``(``... inside ``[[ ]]``)."""

    start: int
    end: int = -1
    kind: str = "word"


# Words after which the next word starts a command again.
_RESERVED = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time"})


class CommandTracker:
    """The words of the simple command being read at one nesting level (the top, ``$( )``,
    ``( )``, backquotes), and where a ``case`` statement or ``[[ ]]`` is in it."""

    def __init__(self, src: str) -> None:
        self.src = src
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
        findings = check_command(self.src, self.words, self.slot_words)
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
        elif word.kind == "word" and len(self.words) == 1:
            if text == "[[":
                self.double_bracket = True
            elif text in _RESERVED or text in ("case", "esac"):
                if text == "esac" and state == "body":
                    self.case.pop()
                elif text == "case":
                    self.case.append("subject")
                self._start_command()
        elif self.double_bracket and text == "]]":
            self.double_bracket = False


@dataclass(frozen=True)
class Finding:
    """A template in a position where bash evaluates values: refused, or integers only."""

    slot: Slot
    message: str
    integer_only: bool


def check_command(src: str, words: Sequence[Word], slot_words: Sequence[tuple[Slot, int]]) -> list[Finding]:
    """Findings for the templates of one simple command (``slot_words``: slot, word index)."""
    by_word: dict[int, list[Slot]] = defaultdict(list)
    for slot, index in slot_words:
        by_word[index].append(slot)
    texts = [src[word.start : word.end] for word in words]
    findings = _assignment_subscripts(words, texts, by_word)
    plain = [index for index, word in enumerate(words) if word.kind == "word"]
    if not plain:
        return findings
    if texts[plain[0]] == "[[":
        return findings + _double_bracket(texts, words, by_word)
    # The command name is the first word that is not a leading 'NAME=value' assignment.
    first = next((n for n, index in enumerate(plain) if not _ASSIGNMENT.match(texts[index])), None)
    if first is None:
        return findings
    while first + 1 < len(plain) and texts[plain[first]] in ("command", "builtin"):
        first += 1
    name, args = texts[plain[first]], plain[first + 1 :]
    return findings + _builtin(name, args, texts, words, by_word)


def _builtin(
    name: str,
    args: list[int],
    texts: list[str],
    words: Sequence[Word],
    by_word: dict[int, list[Slot]],
) -> list[Finding]:
    arg_slots = [slot for index in args for slot in by_word.get(index, [])]
    if name in _CODE_BUILTINS:
        return [_refused(slot, f"is an argument of `{name}`, which runs it as shell code") for slot in arg_slots]
    if name == "let":
        return [_integer(slot, "an argument of `let` (arithmetic)") for slot in arg_slots]
    if name == "unset":
        return [_names_variable(slot, name) for slot in arg_slots]
    if name in _DECLARATIONS:
        return _declaration(name, args, texts, words, by_word)
    if name in _NAME_OPTION:
        targets = [index + 1 for index in args if texts[index] in _NAME_OPTION[name]]
        return [_names_variable(slot, name) for index in targets for slot in by_word.get(index, [])]
    if name in _NAME_BUILTIN_OPTIONS:
        return _read_names(name, args, texts, by_word)
    return []


def _double_bracket(texts: list[str], words: Sequence[Word], by_word: dict[int, list[Slot]]) -> list[Finding]:
    findings: list[Finding] = []
    for index, text in enumerate(texts):
        if words[index].kind != "word":
            continue
        if text in ARITHMETIC_TEST_OPERATORS:
            for operand in (index - 1, index + 1):
                reason = f"an operand of `{text}` in [[ ]] (arithmetic)"
                findings += [_integer(slot, reason) for slot in by_word.get(operand, [])]
        elif text in ("-v", "-R"):
            findings += [_names_variable(slot, f"[[ {text} ]]") for slot in by_word.get(index + 1, [])]
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
                findings.append(_names_variable(slot, name))
            elif "i" in options:
                findings.append(_integer(slot, f"the value of an integer variable (`{name} -i`)"))
    return findings


def _read_names(name: str, args: list[int], texts: list[str], by_word: dict[int, list[Slot]]) -> list[Finding]:
    takes_argument = _NAME_BUILTIN_OPTIONS[name]
    findings: list[Finding] = []
    skip_next = options_done = False
    for index in args:
        text = texts[index]
        if skip_next:
            skip_next = False
        elif not options_done and text == "--":
            options_done = True
        elif not options_done and text.startswith("-") and len(text) > 1:
            skip_next = text[-1] in takes_argument
        else:
            findings += [_names_variable(slot, name) for slot in by_word.get(index, [])]
    return findings


def _assignment_subscripts(words: Sequence[Word], texts: list[str], by_word: dict[int, list[Slot]]) -> list[Finding]:
    findings: list[Finding] = []
    for index, slots in by_word.items():
        span = _subscript_span(texts[index]) if index < len(texts) else None
        if span is None:
            continue
        for slot in slots:
            if span[0] < slot.start - words[index].start < span[1]:
                findings.append(_integer(slot, "an array subscript in an assignment (arithmetic)"))
    return findings


def _subscript_span(text: str) -> tuple[int, int] | None:
    """``(index of '[', index of ']')`` for ``name[...]=`` or ``[...]=`` words."""
    match = _SUBSCRIPT_START.match(text)
    if match is None:
        return None
    closes = [at for at in (text.find("]=", match.end()), text.find("]+=", match.end())) if at >= 0]
    return (match.end() - 1, min(closes)) if closes else None


def _integer(slot: Slot, reason: str) -> Finding:
    return Finding(slot, reason, integer_only=True)


def _refused(slot: Slot, why: str) -> Finding:
    return Finding(slot, f"template {slot.source} {why}; a value there would become code", False)


def _names_variable(slot: Slot, builtin: str) -> Finding:
    return Finding(
        slot,
        f"template {slot.source} gives a variable name to `{builtin}`, and bash evaluates array "
        "subscripts in names as arithmetic, which can run commands; use a fixed name",
        integer_only=False,
    )
