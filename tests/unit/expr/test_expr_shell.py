"""render_shell rewriting, static problems, argv rendering and command references."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from baton.errors import ExpressionError
from baton.expr import (
    ExpressionEngine,
    Reference,
    ShellScript,
    render_argv,
    render_shell,
    shell_references,
    shell_template_problems,
)

RunScript = Callable[[ShellScript], "subprocess.CompletedProcess[bytes]"]

REWRITES = {
    "unquoted": ("echo {{ v }}", 'echo "${BATON_T_0}"'),
    "double": ('echo "a{{ v }}b"', 'echo "a${BATON_T_0}b"'),
    "single": ("echo 'a{{ v }}b'", "echo 'a'\"${BATON_T_0}\"'b'"),
    "ansi-c": ("echo $'a{{ v }}b'", "echo $'a'\"${BATON_T_0}\"$'b'"),
    "parameter": ("echo ${x:-{{ v }}}", 'echo ${x:-"${BATON_T_0}"}'),
    "command-substitution-restarts-quoting": (
        "echo \"$(echo '{{ v }}')\"",
        "echo \"$(echo ''\"${BATON_T_0}\"'')\"",
    ),
    "comment": ("true # {{ v }}", "true # ${BATON_T_0}"),
    "heredoc": ("cat <<EOF\n$HOME {{ v }}\nEOF\n", "cat <<EOF\n$HOME ${BATON_T_0}\nEOF\n"),
    "quoted-heredoc-rewritten": (
        "cat <<'EOF'\n$HOME `x` \\ {{ v }}\nEOF\n",
        "cat <<EOF\n\\$HOME \\`x\\` \\\\ ${BATON_T_0}\nEOF\n",
    ),
    "quoted-heredoc-without-templates-untouched": (
        "cat <<'EOF'\n$HOME\nEOF\necho {{ v }}",
        "cat <<'EOF'\n$HOME\nEOF\necho \"${BATON_T_0}\"",
    ),
    "jinja-comment-syntax-is-bash": ("echo ${#arr[@]} {{ v }}", 'echo ${#arr[@]} "${BATON_T_0}"'),
    "numbering-in-order": ("echo {{ a }} {{ b }}", 'echo "${BATON_T_0}" "${BATON_T_1}"'),
}


@pytest.mark.parametrize(("command", "expected"), REWRITES.values(), ids=REWRITES.keys())
def test_templates_become_references(engine: ExpressionEngine, command: str, expected: str) -> None:
    script = render_shell(command, {"v": "x", "a": 1, "b": 2}, engine)

    assert script.script == expected


def test_values_travel_in_the_environment(engine: ExpressionEngine) -> None:
    context = {"inputs": {"n": 3, "on": True, "none": None, "list": [1, "a"]}}

    script = render_shell("f {{ inputs.n }} {{ inputs.on }} {{ inputs.none }} {{ inputs.list }}", context, engine)

    assert script.env == {
        "BATON_T_0": "3",
        "BATON_T_1": "true",
        "BATON_T_2": "",
        "BATON_T_3": '[1,"a"]',
    }


PROBLEMS = {
    "block": ("{% if x %}echo{% endif %}", "compute the value in an expression"),
    "github-syntax": ("echo ${{ v }}", "GitHub Actions syntax"),
    "github-syntax-in-double-quotes": ('echo "${{ v }}"', "GitHub Actions syntax"),
    "backslash-before-template": ("echo \\{{ v }}", "backslash right before a template"),
    "backslash-before-template-in-ansi-c": ("echo $'\\{{ v }}'", "backslash right before a template"),
    "unterminated-double-quote": ('echo "{{ v }}', "'\"' is never closed"),
    "unterminated-single-quote": ("echo '{{ v }}", '"\'" is never closed'),
    "unterminated-substitution": ("echo $(echo {{ v }}", "'$(' is never closed"),
    "unterminated-heredoc": ("cat <<EOF\n{{ v }}\n", "heredoc 'EOF' is never terminated"),
    "template-as-delimiter": ("cat <<{{ v }}\nx\n", "heredoc delimiter"),
    "template-as-parameter-name": ("echo ${!{{ v }}}", "parameter name"),
    "unclosed-template": ("echo {{ v", "missing"),
    "whitespace-control": ("echo {{- v }}", "whitespace control"),
    "bad-expression": ("echo {{ v + }}", "invalid template"),
    "eval": ('eval "echo {{ v }}"', "runs it as shell code"),
    "trap": ("trap 'echo {{ v }}' EXIT", "runs it as shell code"),
    "declare-name": ("declare {{ v }}=1", "variable name"),
    "local-name": ("f() { local {{ v }}; }", "variable name"),
    "nameref": ("declare -n ref={{ v }}", "variable name"),
    "unset": ("unset {{ v }}", "variable name"),
    "printf-v": ("printf -v {{ v }} '%s' x", "variable name"),
    "read-name": ("read -r {{ v }} < f", "variable name"),
    "test-v": ('[[ -v "{{ v }}" ]]', "variable name"),
    "test-builtin-v": ('[ -v "{{ v }}" ]', "variable name"),
    "command-eval": ("command eval {{ v }}", "runs it as shell code"),
    "quoted-heredoc-with-odd-delimiter": ("cat <<'E F'\n{{ v }}\nE F\n", "simple word"),
}


@pytest.mark.parametrize(("command", "message"), PROBLEMS.values(), ids=PROBLEMS.keys())
def test_unsafe_or_invalid_templates_are_reported(engine: ExpressionEngine, command: str, message: str) -> None:
    problems = shell_template_problems(command)

    assert any(message in problem for problem in problems), problems
    with pytest.raises(ExpressionError, match=r"command cannot be rendered safely|invalid template"):
        render_shell(command, {"v": "x"}, engine)


FINE = {
    "plain": "echo hello",
    "templates-everywhere": "echo {{ a }} \"{{ b }}\" '{{ c }}' $'{{ d }}' # {{ e }}",
    "array-length": 'echo ${#arr[@]} "{{ v }}"',
    "escaped-dollar": 'echo "\\${{ price }}"',
    "case": "case {{ v }} in a|b) echo {{ w }};; *) echo no;; esac",
    "heredocs": "cat <<A <<-'B'\n{{ a }}\nA\n\t{{ b }}\n\tB\necho done",
    "read-prompt-is-a-value": 'read -r -p "{{ v }}" answer',
    "declare-value": "declare -x NAME={{ v }}",
    "printf-value": "printf '%s' {{ v }}",
    "test-value": '[ "{{ v }}" = x ]',
    "arithmetic-checked-at-run-time": "echo $(( {{ n }} + 1 ))",
    "unterminated-after-last-template-is-bash-business": "echo {{ v }}; echo 'oops",
}


@pytest.mark.parametrize("command", FINE.values(), ids=FINE.keys())
def test_safe_commands_have_no_problems(command: str) -> None:
    assert shell_template_problems(command) == []


def test_runtime_problems_stop_rendering(engine: ExpressionEngine) -> None:
    with pytest.raises(ExpressionError, match="'inputs' is undefined"):
        render_shell("echo {{ inputs.x }}", {}, engine)


@pytest.mark.parametrize(
    ("value", "message"),
    [("a\0b", "NUL byte"), ("x" * 200_000, "write large values to a file")],
    ids=["nul", "too-large"],
)
def test_values_bash_cannot_receive_are_refused(engine: ExpressionEngine, value: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        render_shell("echo {{ v }}", {"v": value}, engine)


def test_script_exit_code_and_output(engine: ExpressionEngine, run_script: RunScript) -> None:
    script = render_shell(
        "printf '%s-%s' {{ a }} \"{{ b }}\"; exit {{ code }}", {"a": 1, "b": "two", "code": 3}, engine
    )

    result = run_script(script)

    assert result.returncode == 3
    assert result.stdout == b"1-two"


def test_render_argv(engine: ExpressionEngine) -> None:
    argv = ["git", "commit", "-m", "{{ message }}", "--author={{ who }}", "{{ n }}"]
    context = {"message": "fix; $(rm -rf /) `x` 'q'", "who": "Ann <a@b>", "n": 2}

    assert render_argv(argv, context, engine) == [
        "git",
        "commit",
        "-m",
        "fix; $(rm -rf /) `x` 'q'",
        "--author=Ann <a@b>",
        "2",
    ]


def test_render_argv_refuses_nul(engine: ExpressionEngine) -> None:
    with pytest.raises(ExpressionError, match="NUL"):
        render_argv(["echo", "{{ v }}"], {"v": "a\0b"}, engine)


def test_shell_references() -> None:
    command = 'echo ${#arr[@]} {{ steps.build.outputs.x }} "{{ inputs.y | default(env.Z) }}" {{ inputs.y }}'

    assert shell_references(command) == [
        Reference("steps", ("build", "outputs", "x")),
        Reference("inputs", ("y",)),
        Reference("env", ("Z",)),
    ]


def test_problem_messages_give_the_line(tmp_path: Path) -> None:
    problems = shell_template_problems("echo ok\necho ${{ v }}")

    assert problems[0].startswith("line 2:")


def test_value_is_one_word_and_the_split_idiom_makes_words(
    engine: ExpressionEngine, run_script: RunScript, tmp_path: Path
) -> None:
    value = "printf %s|%s| a $(touch pwned) *"
    one_word = render_shell("{{ v }} || printf missing", {"v": value}, engine)
    split = render_shell('read -ra cmd <<< "{{ v }}"; "${cmd[@]}"', {"v": value}, engine)

    assert run_script(one_word).stdout == b"missing"  # no command is named like the whole value
    assert run_script(split).stdout == b"a|$(touch|pwned)|*|"
    assert not (tmp_path / "pwned").exists()
