"""Terminations in a batch: --yes or a question asked after the summary, a dry run that
checks each contract, each pupil terminated once however often listed, and the audit log
checked before anything is sent."""

from __future__ import annotations

import json

import pytest
from batchrows import csv_rows, lines, read_workbook, workbook
from common import closed_port, outcomes, terminations

from wxpay_cli.local.audit import AuditLog


def test_terminate_batch_needs_yes(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", input=csv_rows(pupils[:3]), expect=1)
    assert "about to terminate the contracts of 3 pupils" in result.stderr and "--yes" in result.stderr
    assert "pupils: p00, p01, p02" in result.stderr
    assert sandbox.received == [] and result.stdout == ""


def test_the_plan_counts_unusable_rows_apart_from_repeats(sandbox, configure, run, pupils):
    configure(sandbox)
    text = csv_rows(["p00", "p01", "p00"]) + ",demo-org\n"  # the last row names no pupil
    result = run("contract", "terminate", "--batch", "-", input=text, expect=1)
    assert "about to terminate the contracts of 2 pupils (4 rows: 1 repeat a pupil, 1 unusable)" in result.stderr
    assert sandbox.received == [] and result.stdout == ""


def test_terminate_batch_dry_run_sends_no_termination(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", "--dry-run", input=csv_rows(pupils[:3]), expect=0)
    out = lines(result.stdout)
    assert all(r["dry_run"] and r["request"]["method"] == "POST" for r in out)
    assert [r.method for r in sandbox.received] == ["GET"] * 3
    assert outcomes() == ["dry_run"] * 3


def test_terminate_batch(sandbox, configure, run, pupils):
    configure(sandbox)
    sandbox.seed_user("demo-org", "never-signed", contract_state="NOT_CONTRACTED")
    user_id = sandbox.state.users[("demo-org", "p02")].user_id
    text = csv_rows(pupils[:2]) + "never-signed,demo-org\n"
    by_user_id = f"user_id,organization_id\n{user_id},demo-org\n"
    result = run("contract", "terminate", "--batch", "-", "--yes", input=text, expect=1)
    out = lines(result.stdout)
    assert [(r.get("contract_state"), r.get("outcome")) for r in out[:2]] == [("TERMINATED", "TERMINATED")] * 2
    assert out[2]["error"]["code"] == "NOT_CONTRACTED"
    second = run("contract", "terminate", "--batch", "-", "--yes", input=by_user_id, expect=0)
    assert lines(second.stdout)[0]["user_id"] == user_id
    posts = [r for r in sandbox.received if r.method == "POST"]
    assert len(posts) == 3 and all(r.body == b"" and r.status == 204 for r in posts)
    outcomes = [(r["out_user_id"] or r["user_id"], r["outcome"]) for r in AuditLog().records()]
    assert outcomes.count(("p00", "succeeded")) == 1 and ("never-signed", "refused") in outcomes
    assert (user_id, "succeeded") in outcomes


def test_a_pupil_already_terminated_is_a_row_that_succeeded(sandbox, configure, run, pupils):
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", "--yes", input=csv_rows(["p00", "demo-terminated"]),
                 expect=0)
    done, already = lines(result.stdout)
    assert done["outcome"] == "TERMINATED"
    assert (already["outcome"], already["contract_state"]) == ("ALREADY_TERMINATED", "TERMINATED")
    assert "error" not in already
    assert "1 already terminated: nothing was left to do" in result.stderr, result.stderr
    assert len([r for r in sandbox.received if r.method == "POST"]) == 1
    assert ("demo-terminated", "already_terminated") in [(r["out_user_id"], r["outcome"])
                                                         for r in AuditLog().records()]


def test_rerunning_a_finished_roster_sends_nothing_and_exits_0(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    roster = tmp_path / "roster.csv"
    roster.write_text(csv_rows(pupils[:3]))
    run("contract", "terminate", "--batch", str(roster), "--yes", expect=0)
    posts = len([r for r in sandbox.received if r.method == "POST"])
    again = run("contract", "terminate", "--batch", str(roster), "--yes", expect=0)
    assert [r["outcome"] for r in lines(again.stdout)] == ["ALREADY_TERMINATED"] * 3
    assert "nothing was left to do" in again.stderr
    assert len([r for r in sandbox.received if r.method == "POST"]) == posts == 3


def test_terminate_batch_sends_each_pupil_once(sandbox, configure, run, pupils):
    """The same pupil twice, once by out_user_id and once by user_id: one POST."""
    configure(sandbox)
    user_id = sandbox.state.users[("demo-org", "p01")].user_id
    text = ('{"out_user_id": "p01", "organization_id": "demo-org"}\n'
            '{"out_user_id": "p01", "organization_id": "demo-org"}\n'
            f'{{"user_id": "{user_id}", "organization_id": "demo-org"}}\n')
    result = run("contract", "terminate", "--batch", "-", "--yes", "--concurrency", "8", input=text)
    out = lines(result.stdout)
    assert result.exit_code == 1
    assert sum(1 for r in out if r.get("contract_state") == "TERMINATED") == 1
    assert sorted(r["error"]["code"] for r in out if "error" in r) == ["DUPLICATE_ROW", "DUPLICATE_ROW"]
    assert len([r for r in sandbox.received if r.method == "POST"]) == 1


@pytest.mark.parametrize("roster", [["p01", "p01", "p02"], ["p01", "p02", "p01"]],
                         ids=["next row", "a row between"])
def test_the_later_row_of_a_pupil_listed_twice_is_the_duplicate_whatever_answers_first(
        sandbox, configure, run, pupils, roster):
    """The first row's lookup is slow: the later copy, found first, still waits for every row
    before it (not only the one just before) and is the one refused."""
    configure(sandbox)
    sandbox.inject("delay", seconds=0.3, path_contains="/p01", times=1)  # the first row's lookup is slow
    result = run("contract", "terminate", "--batch", "-", "--yes", "--concurrency", "8", input=csv_rows(roster))
    out = lines(result.stdout)
    later = roster.index("p01", 1)
    for number, line in enumerate(out):
        if number == later:
            earlier = roster.index("p01") + 2  # as Excel numbers it: the header is row 1
            assert line["error"]["code"] == "DUPLICATE_ROW", line
            assert line["error"]["message"].startswith(f"row {earlier} already"), line
        else:
            assert line.get("contract_state") == "TERMINATED", line
    assert sorted(r.path.split("/")[-2] for r in terminations(sandbox)) == sorted(
        sandbox.state.users[("demo-org", pupil)].user_id for pupil in ("p01", "p02"))  # each pupil once
    assert "terminate the contracts of 2 pupils" in result.stderr and "(3 rows: 1 repeat" in result.stderr


def test_batch_dry_run_checks_the_contract_state(sandbox, configure, run, pupils):
    configure(sandbox)
    sandbox.seed_user("demo-org", "never-signed", contract_state="NOT_CONTRACTED")
    result = run("contract", "terminate", "--batch", "-", "--dry-run",
                 input=csv_rows(["p00", "demo-terminated", "never-signed"]))
    out = lines(result.stdout)
    assert out[0]["dry_run"] is True and out[0]["outcome"] == "WOULD_TERMINATE"
    assert out[1]["outcome"] == "ALREADY_TERMINATED" and "request" not in out[1]
    assert out[2]["error"]["code"] == "NOT_CONTRACTED" and "request" not in out[2]
    assert result.exit_code == 1


def test_batch_termination_checks_the_audit_log_before_anything_is_sent(sandbox, configure, run, pupils, tmp_path):
    configure(sandbox)
    state = tmp_path / "state-is-a-file"
    state.write_text("")
    result = run("contract", "terminate", "--batch", "-", "--yes", input=csv_rows(pupils[:3]),
                 env={"XDG_STATE_HOME": str(state)})
    assert result.exit_code == 3 and "audit log" in result.stderr
    assert sandbox.received == [] and result.stdout == ""


def test_terminate_batch_on_a_terminal_asks_after_the_summary(sandbox, configure, pupils, tmp_path):
    from terminal import run_on_terminal

    configure(sandbox)
    path = tmp_path / "rows.csv"
    path.write_text(csv_rows(["p00", "p01", "p00"]))
    declined = run_on_terminal("contract", "terminate", "--batch", str(path), tmp_path=tmp_path,
                               typeahead=b"y\n", answers=[("cannot be undone", b"n\n")])
    assert declined.returncode == 1, declined.terminal
    assert "about to terminate the contracts of 2 pupils" in declined.terminal
    assert [r.method for r in sandbox.received] == ["GET"] * 3  # looked up, read-only, before the question
    sandbox.received.clear()
    agreed = run_on_terminal("contract", "terminate", "--batch", str(path), tmp_path=tmp_path,
                             answers=[("cannot be undone", b"y\n")])
    assert agreed.returncode == 1, agreed.terminal + agreed.stderr  # the third row repeats a pupil
    codes = [json.loads(line).get("error", {}).get("code") for line in agreed.stdout.splitlines()]
    assert codes == [None, None, "DUPLICATE_ROW"]
    assert len([r for r in sandbox.received if r.method == "POST"]) == 2


def test_terminate_batch_on_a_terminal_shows_names_before_it_asks(sandbox, configure, pupils, tmp_path):
    """Every pupil is looked up first (read-only), then the table says who will be terminated and
    who not, with the roster's own name beside WeChat's, and the question counts only the first."""
    from terminal import run_on_terminal

    configure(sandbox)
    path = tmp_path / "rows.csv"
    path.write_text("姓名,out_user_id,organization_id\nP00,p00,demo-org\n王小刚,demo-terminated,demo-org\n"
                    "张三,p01,demo-org\nP00,p00,demo-org\nP02,p02,demo-org\n")
    declined = run_on_terminal("contract", "terminate", "--batch", str(path), tmp_path=tmp_path,
                               answers=[("cannot be undone", b"n\n")])
    assert declined.returncode == 1, declined.terminal
    question = declined.terminal.index("cannot be undone")
    table = declined.terminal[:question]
    for text in ("P00", "王小刚", "张三", "P01", "三年级二班", "already terminated", "NAME_MISMATCH", "DUPLICATE_ROW",
                 "row 4"):
        assert text in table, (text, declined.terminal)
    assert "about to terminate the contracts of 2 pupils" in table
    assert "these 2 pupils" in declined.terminal[question - 200:question]
    assert [r.method for r in sandbox.received] == ["GET"] * 5  # one read-only lookup a row, nothing sent
    assert declined.stdout == ""

    sandbox.received.clear()
    agreed = run_on_terminal("contract", "terminate", "--batch", str(path), tmp_path=tmp_path,
                             answers=[("cannot be undone", b"y\n")])
    assert agreed.returncode == 1, agreed.terminal  # a name differs, a row repeats a pupil
    out = [json.loads(line) for line in agreed.stdout.splitlines()]
    assert [r.get("outcome") or r["error"]["code"] for r in out] == [
        "TERMINATED", "ALREADY_TERMINATED", "NAME_MISMATCH", "DUPLICATE_ROW", "TERMINATED"]
    asked = [(r.method, r.path.rsplit("/", 1)[-1]) for r in sandbox.received]
    assert asked.count(("POST", "terminate-contract")) == 2
    # each row looked up once before the question; the two terminated queried again before and after the POST
    assert len([a for a in asked if a[0] == "GET"]) == 5 + 2 * 2, asked


def test_a_row_whose_lookup_failed_before_the_question_is_never_terminated(sandbox, configure, run, pupils,
                                                                            terminal, tmp_path):
    """The question was about the pupils the table showed as to be terminated: a row whose lookup
    failed then is not looked up again (and terminated unasked) once the operator says yes."""
    configure(sandbox)
    sandbox.inject("status", status=404, code="RESOURCE_NOT_EXISTS", path_contains="/p01", times=1)
    roster = tmp_path / "roster.csv"
    roster.write_text(csv_rows(["p00", "p01"]))
    result = run("contract", "terminate", "--batch", str(roster), input="y\n", expect=1)
    assert "about to terminate the contract of 1 pupil" in result.stderr, result.stderr
    done, failed = lines(result.stdout)
    assert done["outcome"] == "TERMINATED" and failed["error"]["code"] == "RESOURCE_NOT_EXISTS"
    assert sandbox.state.users[("demo-org", "p01")].contract_state == "CONTRACTED"
    assert len([r for r in sandbox.received if r.method == "POST"]) == 1


def test_terminate_batch_on_a_terminal_with_nothing_to_terminate_does_not_ask(sandbox, configure, pupils,
                                                                             tmp_path):
    from terminal import run_on_terminal

    configure(sandbox)
    path = tmp_path / "rows.csv"
    path.write_text(csv_rows(["demo-terminated"]))
    shown = run_on_terminal("contract", "terminate", "--batch", str(path), tmp_path=tmp_path)
    assert shown.returncode == 0, shown.terminal
    assert "cannot be undone" not in shown.terminal and "nothing to terminate" in shown.terminal
    assert json.loads(shown.stdout)["outcome"] == "ALREADY_TERMINATED"
    assert [r.method for r in sandbox.received] == ["GET"]


def test_a_dry_runs_output_fed_back_terminates_with_fresh_lines(sandbox, configure, run, pupils, tmp_path):
    """`--dry-run > plan.jsonl`, then `--batch plan.jsonl --yes`: the lines say what happened now,
    not what the dry run would have sent."""
    configure(sandbox)
    roster = "班级,out_user_id,organization_id\n一班,p00,demo-org\n二班,p01,demo-org\n"
    plan = tmp_path / "plan.jsonl"
    plan.write_text(run("contract", "terminate", "--batch", "-", "--dry-run", input=roster, expect=0).stdout)
    out = lines(run("contract", "terminate", "--batch", str(plan), "--yes", expect=0).stdout)
    assert [(r["班级"], r["out_user_id"], r["contract_state"]) for r in out] == [
        ("一班", "p00", "TERMINATED"), ("二班", "p01", "TERMINATED")]
    assert all("request" not in r and "dry_run" not in r and r["request_id"] for r in out)


# -- the irreversible path in a batch: the same fault matrix as one termination ------------------
# (tests/test_termination.py): one POST at most, every doubt re-queried, "not sent" only when
# the connection was never made.


@pytest.mark.parametrize("status", [429, 408, 499, 400, 503])
def test_any_answer_to_a_batch_termination_is_requeried_never_resent(sandbox, configure, run, status, retry_sleeps):
    configure(sandbox)
    sandbox.inject("status", status=status, code="SOMETHING", retry_after="0", path_contains="terminate-contract",
                   times=5)
    result = run("contract", "terminate", "--batch", "-", "--yes", input=csv_rows(["demo"]), expect=1)
    [line] = lines(result.stdout)
    assert len(terminations(sandbox)) == 1  # never twice, whatever the status
    # lookup, query before the POST, one POST, re-query
    assert [r.method for r in sandbox.received] == ["GET", "GET", "POST", "GET"]
    assert line["error"]["http_status"] == status
    assert "still CONTRACTED when re-queried" in line["error"]["message"], line
    assert outcomes() == ["attempted", "unknown"]


@pytest.mark.parametrize("form", ["json", "csv", "table"])
def test_a_batch_row_whose_outcome_is_not_known_says_to_check_first(sandbox, configure, run, form, retry_sleeps):
    """Single mode's error says what to do before anything else (its hint); a batch row's line is all
    the operator gets for that pupil, so it must say it too, in every output format."""
    configure(sandbox)
    sandbox.inject("status", status=500, retry_after="0", path_contains="terminate-contract")
    result = run("contract", "terminate", "--batch", "-", "--yes", "--format", form, input=csv_rows(["demo"]),
                 env={"COLUMNS": "400"}, expect=1)
    advice = "check with `wxpay user show --user demo --org demo-org` before running it again"
    if form == "json":
        [line] = lines(result.stdout)
        assert sorted(line["error"]) == ["code", "http_status", "message", "request_id"], line
        assert line["error"]["code"] == "SYSTEM_ERROR" and advice in line["error"]["message"], line
    else:
        assert advice in " ".join(result.stdout.split()), result.stdout
    assert outcomes() == ["attempted", "unknown"]


def test_a_batch_row_refused_before_sending_gets_no_advice_to_check(sandbox, configure, run):
    sandbox.seed_user("demo-org", "never-signed", contract_state="NOT_CONTRACTED")
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", "--yes", input=csv_rows(["never-signed"]), expect=1)
    [line] = lines(result.stdout)
    assert line["error"]["code"] == "NOT_CONTRACTED" and "wxpay user show" not in line["error"]["message"], line


def test_a_batch_termination_whose_answer_is_lost_is_settled_by_requery(sandbox, configure, run, retry_sleeps):
    """The POST reached WeChat, its answer did not come in time: re-query, never resend."""
    configure(sandbox, timeout=0.5)
    sandbox.inject("slow_answer", seconds=1.0, path_contains="terminate-contract")
    result = run("contract", "terminate", "--batch", "-", "--yes", input=csv_rows(["demo"]), expect=0)
    [line] = lines(result.stdout)
    assert line["contract_state"] == "TERMINATED" and "confirmed by re-query" in line["note"], line
    assert len(terminations(sandbox)) == 1
    assert outcomes() == ["attempted", "succeeded"]


def test_a_batch_termination_that_timed_out_is_an_open_outcome_not_unsent(sandbox, configure, run, retry_sleeps):
    """Timed out after sending, and the re-query still shows CONTRACTED: WeChat may yet do it,
    so it is never called "not sent" (safe to rerun), and never sent again."""
    configure(sandbox, timeout=0.5)
    sandbox.inject("delay", seconds=1.0, path_contains="terminate-contract")
    result = run("contract", "terminate", "--batch", "-", "--yes", input=csv_rows(["demo"]), expect=1)
    [line] = lines(result.stdout)
    message = line["error"]["message"]
    assert "still CONTRACTED when re-queried" in message and "not sent" not in message, line
    assert len(terminations(sandbox)) == 1
    assert outcomes() == ["attempted", "unknown"]


def test_a_batch_termination_that_could_not_connect_is_not_sent(sandbox, configure, run, retry_sleeps):
    configure(sandbox, base_url=f"http://127.0.0.1:{closed_port()}")
    result = run("contract", "terminate", "--batch", "-", "--yes", input="user_id,organization_id\nwxu_1,demo-org\n",
                 expect=1)
    [line] = lines(result.stdout)
    assert "was not sent" in line["error"]["message"] and "may or may not" not in line["error"]["message"]
    assert outcomes() == ["attempted", "not_sent"]
    assert len(retry_sleeps) == 2  # a connection never set up is safe to try again


def test_a_roster_workbook_is_terminated_row_by_row_and_named_as_excel_numbers_it(sandbox, configure, run,
                                                                                   pupils, tmp_path):
    """The .xlsx itself: a dry run, then the termination; a pupil whose id was typed as a number is
    not terminated (it may be another pupil), and every line that failed names its row in the sheet."""
    configure(sandbox)
    sandbox.seed_user("demo-org", "0012345", user_name="零零", encrypt_name=False)
    roster = workbook(tmp_path / "解约名单.xlsx", [
        None,
        ["姓名", "out_user_id", "organization_id"],
        ["P00", "p00", "demo-org"],  # the names WeChat has: a name that differs would stop its row
        ["零零", "0012345", "demo-org"],
        None,
        ["错", 12345, "demo-org"],
        ["P00", "p00", "demo-org"],
    ])
    dry = lines(run("contract", "terminate", "--batch", str(roster), "--dry-run", "--format", "json",
                    expect=1).stdout)
    assert [r.get("contract_state") for r in dry[:2]] == ["CONTRACTED"] * 2
    assert dry[2]["error"]["code"] == "INVALID_ROW" and dry[2]["error"]["message"].startswith("row 6:")
    assert dry[3]["error"]["code"] == "DUPLICATE_ROW" and dry[3]["error"]["message"].startswith("row 3 already")
    assert not [r for r in sandbox.received if r.method == "POST"]
    result = tmp_path / "结果.xlsx"
    run("contract", "terminate", "--batch", str(roster), "--yes", "-o", str(result), expect=1)
    posted = [r.path for r in sandbox.received if r.method == "POST"]
    assert len(posted) == 2  # p00 once, 0012345; never 12345
    header, *rows = read_workbook(result)
    names = [value for value, _type in header]
    states = [row[names.index("contract_state")][0] for row in rows]
    assert [row[names.index("out_user_id")][0] for row in rows] == ["p00", "0012345", "12345", "p00"]
    assert states[:2] == ["TERMINATED", "TERMINATED"]
    assert [row[names.index("error_code")][0] for row in rows] == [None, None, "INVALID_ROW", "DUPLICATE_ROW"]
