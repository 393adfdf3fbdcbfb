"""Hostile template values in every quoting position: bash must see them as plain data.

Each case renders a command whose template value tries to break out of its position, runs
it with ``bash -eo pipefail -c``, and checks that nothing was run (no ``pwned`` file, the
canary file still there) and that the value arrived byte for byte.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baton.errors import ExpressionError
from baton.expr import ExpressionEngine, ShellScript, render_shell, shell_template_problems

RunScript = Callable[[ShellScript], "subprocess.CompletedProcess[bytes]"]

HOSTILE_VALUES = {
    "command-substitution": "$(touch pwned)",
    "backticks": "`touch pwned`",
    "semicolon": "; rm -rf canary; touch pwned",
    "single-quote-breakout": "' ; touch pwned ; '",
    "double-quote-breakout": '" ; touch pwned ; "',
    "ansi-c-breakout": "\\' ; touch pwned ; $'",
    "newlines": "line one\ntouch pwned\n",
    "ifs": "${IFS}touch${IFS}pwned",
    "parameter": "${HOME} $PATH $0",
    "backslash": "\\",
    "backslashes-and-quotes": "\\'\\\"\\\\n\\",
    "glob": "*",
    "leading-dash-n": "-n",
    "empty": "",
    "unicode": "héllo ☃ 日本語 \u202e",
    "heredoc-terminator": "first\nEOF\ntouch pwned\nEOF",
    "braces-and-arithmetic": "}} {{ $((1+1)) $[2] a[$(touch pwned)]",
    "trailing-newlines": "value\n\n",
    "tabs": "\tindented\t",
    "ampersands": "&& touch pwned & \\& &",
}

# (command template with {{ v }}, what the output file must hold given the value)
POSITIONS = {
    "unquoted": ("printf '%s' {{ v }} > out", lambda v: v),
    "double-quoted": ("printf '%s' \"{{ v }}\" > out", lambda v: v),
    "double-quoted-with-text": ("printf '%s' \"<{{ v }}>\" > out", lambda v: f"<{v}>"),
    "single-quoted": ("printf '%s' '{{ v }}' > out", lambda v: v),
    "single-quoted-with-text": ("printf '%s' 'a $b {{ v }} c' > out", lambda v: f"a $b {v} c"),
    "ansi-c": ("printf '%s' $'{{ v }}' > out", lambda v: v),
    "ansi-c-with-escapes": ("printf '%s' $'<\\t{{ v }}\\n>' > out", lambda v: f"<\t{v}\n>"),
    "heredoc": ("cat <<EOF > out\n{{ v }}\nEOF", lambda v: v + "\n"),
    "heredoc-single-quoted": ("cat <<'EOF' > out\n{{ v }}\nEOF", lambda v: v + "\n"),
    "heredoc-double-quoted": ('cat <<"EOF" > out\n{{ v }}\nEOF', lambda v: v + "\n"),
    "heredoc-backslash": ("cat <<\\EOF > out\n{{ v }}\nEOF", lambda v: v + "\n"),
    "heredoc-dash-quoted": ("cat <<-'EOF' > out\n\t\t{{ v }}\n\tEOF", lambda v: v + "\n"),
    "command-substitution": (
        "r=$(printf '%s' {{ v }}; printf x); printf '%s' \"${r%x}\" > out",
        lambda v: v,
    ),
    "command-substitution-in-double-quotes": (
        "r=\"$(printf '%s' '{{ v }}'; printf x)\"; printf '%s' \"${r%x}\" > out",
        lambda v: v,
    ),
    "nested-command-substitution": (
        'r="$(echo "$(printf \'%s\' "{{ v }}"; printf x)")"; printf \'%s\' "${r%x}" > out',
        lambda v: v,
    ),
    "backticks": ("r=`printf '%s' {{ v }}; printf x`; printf '%s' \"${r%x}\" > out", lambda v: v),
    "parameter-default": ("printf '%s' \"${UNSET_VAR:-{{ v }}}\" > out", lambda v: v),
    "parameter-default-unquoted": ("printf '%s' ${UNSET_VAR:-{{ v }}} > out", lambda v: v),
    "parameter-pattern": (
        "s='<*>'; printf '%s' \"${s#{{ v }}}\" > out",
        lambda v: "<*>"[len(v) :] if "<*>".startswith(v) else "<*>",
    ),
    "parameter-pattern-single-quoted-in-double": (
        "s='<*>'; printf '%s' \"${s#'{{ v }}'}\" > out",
        lambda v: "<*>"[len(v) :] if "<*>".startswith(v) else "<*>",
    ),
    "parameter-replacement": ("s=ab; printf '%s' \"${s/b/{{ v }}}\" > out", lambda v: "a" + v),
    "parameter-default-single-quoted-in-double": (
        "printf '%s' \"${UNSET_VAR:-'{{ v }}'}\" > out",
        lambda v: f"'{v}'",
    ),
    "parameter-default-ansi-c-in-double": (
        "printf '%s' \"${UNSET_VAR:-$'{{ v }}'}\" > out",
        lambda v: v,
    ),
    "case-in-command-substitution": (
        "r=$(case a in a) printf '%s' \"{{ v }}\";; esac; printf x); printf '%s' \"${r%x}\" > out",
        lambda v: v,
    ),
    "comment": ("# {{ v }}\nprintf '%s' done > out", lambda v: "done"),
    "assignment": ("x={{ v }}; printf '%s' \"$x\" > out", lambda v: v),
    "here-string": ("cat <<< {{ v }} > out", lambda v: v + "\n"),
}


@pytest.mark.parametrize("value", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
@pytest.mark.parametrize("position", POSITIONS.values(), ids=POSITIONS.keys())
def test_hostile_value_arrives_as_data(
    engine: ExpressionEngine,
    run_script: RunScript,
    tmp_path: Path,
    value: str,
    position: tuple[str, object],
) -> None:
    command, expected = position
    (tmp_path / "canary").write_text("still here")

    script = render_shell(command, {"v": value}, engine)
    result = run_script(script)

    assert result.returncode == 0, result.stderr.decode()
    assert not (tmp_path / "pwned").exists()
    assert (tmp_path / "canary").exists()
    assert callable(expected)
    assert (tmp_path / "out").read_bytes() == expected(value).encode()


@pytest.mark.parametrize("value", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
def test_value_never_appears_in_script_text(engine: ExpressionEngine, value: str) -> None:
    # GIVEN a value that is not a substring of the command itself
    marker = f"MARK{value}KRAM"

    script = render_shell("echo {{ v }} \"{{ v }}\" '{{ v }}'", {"v": marker}, engine)

    assert marker not in script.script
    assert set(script.env.values()) == {marker}


def test_quoted_heredoc_keeps_its_literal_text(engine: ExpressionEngine, run_script: RunScript, tmp_path: Path) -> None:
    # GIVEN a quoted heredoc whose literal text would expand if the heredoc were unquoted
    literal = "home=$HOME tick=`date` sub=$(touch pwned) slash=\\ tail=\\"
    command = f"cat <<'EOF' > out\n{literal}\nvalue={{{{ v }}}}\n{literal}\nEOF\nprintf '%s' after >> out"

    result = run_script(render_shell(command, {"v": "$(touch pwned)"}, engine))

    assert result.returncode == 0, result.stderr.decode()
    assert not (tmp_path / "pwned").exists()
    expected = f"{literal}\nvalue=$(touch pwned)\n{literal}\nafter"
    assert (tmp_path / "out").read_text() == expected


def test_dash_heredoc_still_strips_tabs(engine: ExpressionEngine, run_script: RunScript, tmp_path: Path) -> None:
    command = "if true; then\n\tcat <<-EOF > out\n\t\tx={{ v }}\n\t\t$HOME_IS_NOT_SET_HERE\n\tEOF\nfi"

    result = run_script(render_shell(command, {"v": "\tkeep"}, engine))

    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "out").read_text() == "x=\tkeep\n\n"


def test_literal_text_around_templates_is_unchanged(engine: ExpressionEngine) -> None:
    command = "echo \"a $HOME {{ v }} `b`\" 'c {{ v }} d' # e {{ v }}\n"

    script = render_shell(command, {"v": 1}, engine)

    assert script.script == ("echo \"a $HOME ${BATON_T_0} `b`\" 'c '\"${BATON_T_1}\"' d' # e ${BATON_T_2}\n")


ARITHMETIC_POSITIONS = {
    "dollar-double-paren": ("printf '%s' $(( {{ v }} + 1 )) > out", "43"),
    "double-paren-command": ("if (( {{ v }} > 40 )); then printf yes > out; fi", "yes"),
    "for-loop": ("for (( i = 40; i < {{ v }}; i++ )); do printf '%s' $i >> out; done", "4041"),
    "old-arithmetic": ("printf '%s' $[ {{ v }} * 2 ] > out", "84"),
    "array-subscript": ("a=(); a[42]=x; printf '%s' \"${a[{{ v }}]}\" > out", "x"),
    "assignment-subscript": ("a[{{ v }}]=y; printf '%s' \"${a[42]}\" > out", "y"),
    "substring": ("s=$(printf '%050d' 7); printf '%s' \"${s:{{ v }}}\" > out", "00000007"),
    "double-bracket-eq": ("[[ {{ v }} -eq 42 ]] && printf yes > out", "yes"),
    "double-bracket-quoted": ('[[ "{{ v }}" -ge 42 ]] && printf yes > out', "yes"),
    "let": ("let 'n = {{ v }} + 1'; printf '%s' $n > out", "43"),
    "declare-integer": ("declare -i n={{ v }}; printf '%s' $n > out", "42"),
}


@pytest.mark.parametrize("position", ARITHMETIC_POSITIONS.values(), ids=ARITHMETIC_POSITIONS.keys())
def test_arithmetic_context_accepts_integers(
    engine: ExpressionEngine, run_script: RunScript, tmp_path: Path, position: tuple[str, str]
) -> None:
    command, expected = position

    result = run_script(render_shell(command, {"v": 42}, engine))

    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "out").read_text() == expected


@pytest.mark.parametrize(
    "value",
    ["a[$(touch pwned)]", "x", "1+1", "42 ", ""],
    ids=["subscript-payload", "name", "expression", "trailing-space", "empty"],
)
@pytest.mark.parametrize("position", ARITHMETIC_POSITIONS.values(), ids=ARITHMETIC_POSITIONS.keys())
def test_arithmetic_context_refuses_anything_else(
    engine: ExpressionEngine, tmp_path: Path, value: str, position: tuple[str, str]
) -> None:
    command, _expected = position

    with pytest.raises(ExpressionError, match="must be an integer"):
        render_shell(command, {"v": value}, engine)
    assert not (tmp_path / "pwned").exists()


def test_arithmetic_payload_is_dangerous_without_the_check(tmp_path: Path) -> None:
    """Control: bash really runs the payload from a variable in arithmetic context."""
    subprocess.run(
        ["bash", "-c", "echo $(( $V ))"],
        cwd=tmp_path,
        env={"V": "a[$(touch pwned)]", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=False,
    )

    assert (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    "value",
    ["$(touch pwned)", "-n", "*", "a b", "'", "\n"],
    ids=["command-substitution", "option", "glob", "space", "quote", "newline"],
)
def test_string_comparison_in_double_brackets(
    engine: ExpressionEngine, run_script: RunScript, tmp_path: Path, value: str
) -> None:
    command = '[[ {{ v }} == "$EXPECTED" ]] && printf yes > out'
    script = render_shell(command, {"v": value}, engine)

    result = run_script(ShellScript(script.script, {**script.env, "EXPECTED": value}))

    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "out").read_text() == "yes"
    assert not (tmp_path / "pwned").exists()


# -- generated nestings ------------------------------------------------------------------------

_PLACEHOLDER = "\0"  # stands for the value in expected outputs; never in values or literal text
_BASE_WORDS = [
    ("{{ v }}", "\0"),
    ("x{{ v }}y", "x\0y"),
    ("'a {{ v }} b'", "a \0 b"),
    # Not a tab: bash drops a $'\t' tab inside ${:-} inside "$( )", whatever the value.
    ("$'a\\x41{{ v }}'", "aA\0"),
    ('"<{{ v }}>"', "<\0>"),
    ("\"${UNSET_VAR:-'{{ v }}'}\"", "'\0'"),
    ('"${UNSET_VAR:-"{{ v }}"}"', "\0"),
]


def _nested_words() -> st.SearchStrategy[tuple[str, str]]:
    """Shell words around a template, nested in $( ) and ${:-}, with the text each prints.

    (An unquoted ``$( )`` is left out: bash word-splits its output, whatever Baton does.)
    """
    return st.recursive(
        st.sampled_from(_BASE_WORDS),
        lambda inner: st.one_of(
            inner.map(lambda w: (f"\"$(printf '%s' {w[0]})\"", w[1])),
            inner.map(lambda w: (f"${{UNSET_VAR:-{w[0]}}}", w[1])),
            inner.map(lambda w: (f"\"a$(printf '%s' {w[0]})b\"", f"a{w[1]}b")),
        ),
        max_leaves=4,
    )


@settings(max_examples=120, deadline=None, derandomize=True)
@given(word=_nested_words(), value=st.sampled_from([v for v in HOSTILE_VALUES.values() if not v.endswith("\n")]))
def test_nested_positions_keep_the_value_whole(word: tuple[str, str], value: str) -> None:
    text, expected = word
    with tempfile.TemporaryDirectory() as directory:
        script = render_shell(f"printf '%s' {text} > out", {"v": value}, ExpressionEngine())
        result = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", script.script],
            cwd=directory,
            env={**script.env, "PATH": os.environ["PATH"]},
            capture_output=True,
            check=False,
        )

        assert result.returncode == 0, result.stderr.decode()
        assert not (Path(directory) / "pwned").exists()
        assert (Path(directory) / "out").read_text() == expected.replace(_PLACEHOLDER, value)


# -- random commands ---------------------------------------------------------------------------

_FRAGMENTS = [
    *["{{ v }}"] * 4,
    *[" ", "\n", ";", "&&", "|", "(", ")", "{", "}", "=", "*", "-n", "a", "echo ", "printf '%s' ", "cat"],
    *["'", '"', "$'", '$"', "\\", "\\'", '\\"', "\\`", "`", "$", "$x", "$(", "${x:-", "${x#", "${x/a/", "${#x}"],
    *["#", "# c\n", "<<EOF\n", "<<'EOF'\n", '<<"EOF"\n', "<<-EOF\n", "<<\\EOF\n", "EOF\n", "\tEOF\n", "<<<", "a\\"],
    *["case a in a)", ";;", "esac", "[[ ", " ]]", " == ", "if true; then ", "; fi", "f() { ", "; }", "$((1))"],
    *["x=`cat <<EOF`", "$(cat <<EOF)", "\\\n", "\n{{ v }}\n", "for i in ", "; do ", "; done", ">/dev/null"],
]
_RUNNABLE_VALUES = ["touch pwned", " touch pwned ", "$(touch pwned)", "`touch pwned`", "'; touch pwned; '"]
_RUNNABLE_VALUES += ['"; touch pwned; "', "\\'; touch pwned; $'", "\nEOF\ntouch pwned\nEOF\n", "\n)\ntouch pwned\n"]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(parts=st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=14), value=st.sampled_from(_RUNNABLE_VALUES))
def test_no_command_lets_a_value_run(parts: list[str], value: str) -> None:
    """Whatever the command, its script either is refused or never runs the value."""
    command = "".join(parts) if "{{ v }}" in parts else "".join(parts) + "{{ v }}"
    try:
        script = render_shell(command, {"v": value, "x": 1}, ExpressionEngine())
    except ExpressionError:
        return  # refusing is always safe
    with tempfile.TemporaryDirectory() as directory:
        # A generated loop may never end; what matters is what ran before the timeout.
        with contextlib.suppress(subprocess.TimeoutExpired):
            subprocess.run(
                ["bash", "-c", script.script],
                cwd=directory,
                env={**script.env, "PATH": os.environ["PATH"]},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=10,
                check=False,
            )

        assert not (Path(directory) / "pwned").exists(), script.script


@settings(max_examples=400, deadline=None, derandomize=True)
@given(
    parts=st.lists(st.sampled_from([*_FRAGMENTS, "let ", "eval ", "declare ", "-eq ", "))", "$[", "]"]), max_size=30)
)
def test_scanner_never_crashes(parts: list[str]) -> None:
    problems = shell_template_problems("".join(parts))

    assert all(isinstance(problem, str) for problem in problems)


# -- builtins that evaluate a value as code ------------------------------------------------------

_SUBSCRIPT_PAYLOAD = "a[$(touch pwned)]"
# (command with {{ v }}, a value bash would run from that position if the template were let through)
CODE_POSITIONS = {
    "eval": ("eval {{ v }}", "touch pwned"),
    "eval-double-quoted-name": ('"eval" {{ v }}', "touch pwned"),
    "eval-escaped-name": ("\\eval {{ v }}", "touch pwned"),
    "eval-split-name": ("e''val {{ v }}", "touch pwned"),
    "eval-ansi-c-name": ("$'eval' {{ v }}", "touch pwned"),
    "eval-of-command-substitution": ("eval \"$(printf '%s' {{ v }})\"", "touch pwned"),
    "eval-in-function-body": ("f() { eval {{ v }}; }; f", "touch pwned"),
    "eval-in-function-keyword-body": ("function f { eval {{ v }}; }; f", "touch pwned"),
    "eval-via-command": ("command eval {{ v }}", "touch pwned"),
    "coproc-eval": ("coproc eval {{ v }}; wait", "touch pwned"),
    "coproc-brace-eval": ("coproc { eval {{ v }}; }; wait", "touch pwned"),
    "trap": ("trap {{ v }} EXIT", "touch pwned"),
    "trap-quoted-action": ("trap -- '{{ v }}' EXIT", "touch pwned"),
    "mapfile-callback": ("mapfile -C {{ v }} -c 1 lines <<< 'x'", "touch pwned;:"),
    "readarray-glued-callback": ("readarray -c 1 -C{{ v }} lines <<< 'x'", "touch pwned;:"),
    "printf-glued-name": ("printf -v{{ v }} '%s' 1", _SUBSCRIPT_PAYLOAD),
    "printf-name": ("printf -v {{ v }} '%s' 1", _SUBSCRIPT_PAYLOAD),
    "wait-name": ("sleep 0 & wait -n -p {{ v }}", _SUBSCRIPT_PAYLOAD),
    "alias": ("shopt -s expand_aliases; alias go={{ v }}\ngo", "touch pwned"),
    "ps4-with-xtrace": ("PS4={{ v }}; set -x; true", "$(touch pwned)"),
    "exported-ps4": ("export PS4={{ v }}; set -x; true", "$(touch pwned)"),
    "ps4-read": ("read -r PS4 <<< {{ v }}; set -x; true", "$(touch pwned)"),
    "bash-command-string": ("bash -c {{ v }}", "touch pwned"),
    "sh-command-string-after-options": ("sh -ec {{ v }}", "touch pwned"),
}


# Refused as well, though today's bash checks these names before evaluating them.
_NAMES_REFUSED_TOO = {
    "read-glued-array-name": ("read -a{{ v }} <<< 1", _SUBSCRIPT_PAYLOAD),
    "getopts-name": ("getopts a {{ v }} -a", _SUBSCRIPT_PAYLOAD),
}


@pytest.mark.parametrize(
    "position",
    [*CODE_POSITIONS.values(), *_NAMES_REFUSED_TOO.values()],
    ids=[*CODE_POSITIONS.keys(), *_NAMES_REFUSED_TOO.keys()],
)
def test_builtin_that_runs_a_value_is_refused_at_validation(position: tuple[str, str]) -> None:
    command, _payload = position

    problems = shell_template_problems(command)

    assert problems, command
    assert any("code" in problem or "variable name" in problem for problem in problems), problems


@pytest.mark.parametrize("position", CODE_POSITIONS.values(), ids=CODE_POSITIONS.keys())
def test_builtin_that_runs_a_value_is_refused_when_rendered(
    engine: ExpressionEngine, tmp_path: Path, position: tuple[str, str]
) -> None:
    command, payload = position

    with pytest.raises(ExpressionError):
        render_shell(command, {"v": payload}, engine)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("position", CODE_POSITIONS.values(), ids=CODE_POSITIONS.keys())
def test_builtin_position_is_dangerous_without_the_check(tmp_path: Path, position: tuple[str, str]) -> None:
    """Control: bash really runs the payload when it arrives there from a variable."""
    command, payload = position
    script = command.replace("'{{ v }}'", '"$V"').replace("{{ v }}", '"$V"')

    subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={"V": payload, "PATH": os.environ["PATH"]},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=20,
        check=False,
    )

    assert (tmp_path / "pwned").exists(), script


# Variables declared -i evaluate every value assigned to them, wherever the declaration is.
INTEGER_VARIABLE_POSITIONS = {
    "declare-i-then-assign": ("declare -i n; n={{ v }}; printf '%s' $n > out", "42"),
    "local-i-then-assign": ("f() { local -i n; n={{ v }}; printf '%s' $n > out; }; f", "42"),
    "assign-before-declaration-in-loop": (
        "for k in 1 2; do if [[ $k == 2 ]]; then n={{ v }}; fi; declare -i n; done; printf '%s' $n > out",
        "42",
    ),
    "append-to-integer": ("declare -i n=1; n+={{ v }}; printf '%s' $n > out", "43"),
    "read-into-integer": ("declare -i n; read -r n <<< {{ v }}; printf '%s' $n > out", "42"),
    "integer-array-element": ("declare -ai a; a[0]={{ v }}; printf '%s' ${a[0]} > out", "42"),
}


@pytest.mark.parametrize("position", INTEGER_VARIABLE_POSITIONS.values(), ids=INTEGER_VARIABLE_POSITIONS.keys())
def test_integer_variable_takes_integers(
    engine: ExpressionEngine, run_script: RunScript, tmp_path: Path, position: tuple[str, str]
) -> None:
    command, expected = position

    result = run_script(render_shell(command, {"v": 42}, engine))

    assert result.returncode == 0, result.stderr.decode()
    assert (tmp_path / "out").read_text() == expected


@pytest.mark.parametrize("position", INTEGER_VARIABLE_POSITIONS.values(), ids=INTEGER_VARIABLE_POSITIONS.keys())
def test_integer_variable_refuses_a_subscript_payload(
    engine: ExpressionEngine, tmp_path: Path, position: tuple[str, str]
) -> None:
    command, _expected = position

    with pytest.raises(ExpressionError, match="must be an integer"):
        render_shell(command, {"v": _SUBSCRIPT_PAYLOAD}, engine)


@pytest.mark.parametrize("position", INTEGER_VARIABLE_POSITIONS.values(), ids=INTEGER_VARIABLE_POSITIONS.keys())
def test_integer_variable_is_dangerous_without_the_check(tmp_path: Path, position: tuple[str, str]) -> None:
    command, _expected = position

    subprocess.run(
        ["bash", "-c", command.replace("{{ v }}", '"$V"')],
        cwd=tmp_path,
        env={"V": _SUBSCRIPT_PAYLOAD, "PATH": os.environ["PATH"]},
        capture_output=True,
        timeout=20,
        check=False,
    )

    assert (tmp_path / "pwned").exists()


ASSOCIATIVE_KEYS = {
    "assign-double-quoted-key": ('declare -A m; m["{{ v }}"]=1; printf \'%s\' "${m[@]}" > out', lambda v: "1"),
    "assign-unquoted-key": ("declare -A m; m[{{ v }}]=2; printf '%s' \"${m[@]}\" > out", lambda v: "2"),
    "read-key": ("declare -A m; m[$K]=found; printf '%s' \"${m[{{ v }}]}\" > out", lambda v: "found"),
    "read-key-unquoted": ("declare -A m; m[$K]=found; printf '%s' ${m[{{ v }}]} > out", lambda v: "found"),
    "keys-listed": ('declare -A m; m["{{ v }}"]=1; printf \'%s\' "${!m[@]}" > out', lambda v: v),
}


@pytest.mark.parametrize(
    "value",
    ["plain", _SUBSCRIPT_PAYLOAD, "$(touch pwned)", "`touch pwned`", "a b", "]=x; touch pwned; m[y"],
    ids=["plain", "subscript-payload", "command-substitution", "backticks", "space", "bracket-breakout"],
)
@pytest.mark.parametrize("position", ASSOCIATIVE_KEYS.values(), ids=ASSOCIATIVE_KEYS.keys())
def test_associative_array_keys_are_plain_strings(
    engine: ExpressionEngine, run_script: RunScript, tmp_path: Path, value: str, position: tuple[str, object]
) -> None:
    command, expected = position
    script = render_shell(command, {"v": value}, engine)

    result = run_script(ShellScript(script.script, {**script.env, "K": value}))

    assert result.returncode == 0, result.stderr.decode()
    assert not (tmp_path / "pwned").exists()
    assert callable(expected)
    assert (tmp_path / "out").read_text() == expected(value)


NOT_SURELY_ASSOCIATIVE = {
    "declared-in-function": "f() { declare -A m; }; f; m[{{ v }}]=1",
    "declared-conditionally": "false && declare -A m; m[{{ v }}]=1",
    "declared-in-if": "if false; then declare -A m; fi; m[{{ v }}]=1",
    "unset-later": "declare -A m; unset m; m[{{ v }}]=1",
    "used-before-declared": "m[{{ v }}]=1; declare -A m",
    "local": "f() { local -A m; m[{{ v }}]=1; }; f",
}


@pytest.mark.parametrize("command", NOT_SURELY_ASSOCIATIVE.values(), ids=NOT_SURELY_ASSOCIATIVE.keys())
def test_subscript_of_an_array_not_surely_associative_stays_arithmetic(
    engine: ExpressionEngine, tmp_path: Path, command: str
) -> None:
    with pytest.raises(ExpressionError, match="must be an integer"):
        render_shell(command, {"v": _SUBSCRIPT_PAYLOAD}, engine)
