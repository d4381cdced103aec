"""Real terminals: the real `wxpay` on a pseudo-terminal, against the sandbox.

Whether someone can be asked is decided from stdin and stderr (both must be
terminals); the output format from stdout; and an irreversible question only
takes an answer typed after it was shown.
"""

from __future__ import annotations

import json

from common import TERMINATE, outcomes, terminations
from terminal import run_on_terminal

QUESTION = "This cannot be undone"


def test_typed_ahead_yes_does_not_answer_the_termination_question(sandbox, configure, tmp_path):
    configure(sandbox)
    run = run_on_terminal(*TERMINATE, tmp_path=tmp_path, typeahead=b"y\n", answers=[(QUESTION, b"n\n")])
    assert run.returncode == 1, run.terminal
    assert "nothing was terminated" in run.terminal
    assert terminations(sandbox) == []
    assert sandbox.state.users[("demo-org", "demo")].contract_state == "CONTRACTED"
    assert outcomes() == ["declined"]


def test_yes_typed_after_the_question_terminates(sandbox, configure, tmp_path):
    configure(sandbox)
    run = run_on_terminal(*TERMINATE, tmp_path=tmp_path, answers=[(QUESTION, b"y\n")])
    assert run.returncode == 0, run.terminal
    assert len(terminations(sandbox)) == 1
    assert json.loads(run.stdout)["contract_state"] == "TERMINATED"  # stdout is a file: JSON


def test_a_double_yes_in_handover_does_not_answer_the_termination(sandbox, configure, tmp_path):
    configure(sandbox)
    run = run_on_terminal("handover", "--user", "demo", "--org", "demo-org", tmp_path=tmp_path, stdout=True,
                          answers=[("Fetch the repayment link now?", b"y\n"),
                                   ("forwarded the link?", b"y\ny\n"),
                                   (QUESTION, b"n\n")])
    assert run.returncode == 1, run.terminal
    assert "nothing was terminated" in run.terminal
    assert terminations(sandbox) == []


def test_no_question_when_only_stdin_is_a_terminal(sandbox, configure, tmp_path):
    configure(sandbox)
    run = run_on_terminal(*TERMINATE, tmp_path=tmp_path, stdin=True, stderr=False, answers=[(QUESTION, b"y\n")])
    assert run.returncode == 1
    assert "refusing to terminate without confirmation" in run.stderr
    assert QUESTION not in run.stderr + run.terminal
    assert terminations(sandbox) == []


def test_no_question_when_only_stderr_is_a_terminal(sandbox, configure, tmp_path):
    configure(sandbox)
    run = run_on_terminal(*TERMINATE, tmp_path=tmp_path, stdin=False, stderr=True, answers=[(QUESTION, b"y\n")])
    assert run.returncode == 1
    assert "refusing to terminate without confirmation" in run.terminal
    assert QUESTION not in run.terminal
    assert terminations(sandbox) == []


def test_output_format_follows_stdout_not_stderr(sandbox, configure, tmp_path):
    configure(sandbox)
    show = ("user", "show", "--user", "demo", "--org", "demo-org")
    on_terminal = run_on_terminal(*show, tmp_path=tmp_path, stdin=False, stdout=True, stderr=False)
    assert on_terminal.returncode == 0, on_terminal.stderr
    assert "张小明" in on_terminal.terminal and not on_terminal.terminal.lstrip().startswith("{")
    in_a_file = run_on_terminal(*show, tmp_path=tmp_path, stdin=False, stdout=False, stderr=True)
    assert in_a_file.returncode == 0, in_a_file.terminal
    assert json.loads(in_a_file.stdout)["user_name"] == "张小明"
