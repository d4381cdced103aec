"""Names before every decision: the name the operator has (a roster's 姓名 / name column,
`--name-column`, or `--name` on one pupil) is compared with the name WeChat has, whitespace
and full width folded, before a link is shown or written and before a termination is sent.
A name that differs is NAME_MISMATCH, a name that cannot be compared NAME_UNAVAILABLE; both
stop that pupil (and are in the audit log) unless --ignore-name-mismatch."""

from __future__ import annotations

import base64

import pytest
from batchrows import lines
from common import LINK, SHOW, TERMINATE, audit_lines, terminations
from hostile import USER_PATH

from wxpay_cli.flows.names import compare, fold


def links_sent(sandbox) -> list:
    return [r for r in sandbox.received if r.method == "POST" and r.path.endswith("/repayment-url")]


def user_queries(sandbox) -> list:
    return [r for r in sandbox.received if r.method == "GET" and "/users/out-user-id/" in r.path]


# -- what counts as the same name ---------------------------------------------------------------------


@pytest.mark.parametrize("given, wechat", [
    ("张小明", "张小明"),
    (" 张 小明 ", "张小明"),  # spaces around and inside
    ("张\u3000小明", "张小明"),  # an ideographic (full-width) space
    ("Ｌｉ Ｘｉａｏ", "li xiao"),  # full-width Latin, and case
    ("买买提・艾力", "买买提·艾力"),  # the middle dot of a minority name, as a Japanese IME types it
    ("\ufeff张小明\u200b", "张小明"),  # invisible marks a copy from Excel or WeChat brings along
])
def test_names_that_differ_only_in_spacing_width_or_case_are_the_same(given, wechat):
    assert fold(given) == fold(wechat)
    assert compare(given, wechat) is None


@pytest.mark.parametrize("given, wechat", [("张小明", "张晓明"), ("张小明", "张小"), ("王刚", "王 钢")])
def test_names_that_differ_in_a_character_differ(given, wechat):
    assert compare(given, wechat).code == "NAME_MISMATCH"


ENCRYPTED = base64.b64encode(bytes(256)).decode()  # 344 characters: RSA-2048 ciphertext for another key


@pytest.mark.parametrize("wechat", [None, "", "   ", ENCRYPTED, 42])
def test_a_name_wechat_does_not_give_readably_cannot_be_compared(wechat):
    assert compare("张小明", wechat).code == "NAME_UNAVAILABLE"


def test_a_blank_name_in_the_roster_cannot_be_compared():
    assert compare("  ", "张小明").code == "NAME_UNAVAILABLE"


# -- one pupil: --name --------------------------------------------------------------------------------


def test_a_link_is_fetched_when_the_name_matches(sandbox, configure, run):
    configure(sandbox)
    result = run(*LINK, "--name", "张 小明", "--json", expect=0)  # demo's name is encrypted: decrypted first
    assert result.json["repayment_url"]
    assert len(user_queries(sandbox)) == 1 and len(links_sent(sandbox)) == 1


def test_a_name_that_differs_stops_the_link_before_it_is_fetched(sandbox, configure, run):
    configure(sandbox)
    result = run(*LINK, "--name", "张晓明", "--json", expect=1)
    assert result.stdout == ""
    assert result.error["code"] == "NAME_MISMATCH"
    assert "张晓明" in result.error["message"] and "张小明" in result.error["message"]
    assert links_sent(sandbox) == []
    [record] = audit_lines()
    assert (record["operation"], record["outcome"], record["error"]) == ("repayment_url", "refused", "NAME_MISMATCH")


def test_a_name_that_differs_is_said_in_the_operators_language(sandbox, configure, run):
    configure(sandbox)
    result = run("--lang", "zh", *LINK, "--name", "张晓明", expect=1)
    assert "张晓明" in result.stderr and "姓名" in result.stderr and "--ignore-name-mismatch" in result.stderr
    assert "name" not in result.stderr.replace("--ignore-name-mismatch", "")


def test_a_name_wechat_keeps_encrypted_stops_the_link(hostile, sandbox, run):
    hostile.rewrite(USER_PATH, lambda data: {**data, "user_name": ENCRYPTED})
    result = run(*LINK, "--name", "张小明", "--json", expect=1)
    assert result.error["code"] == "NAME_UNAVAILABLE"
    assert links_sent(sandbox) == []


def test_ignore_name_mismatch_fetches_the_link_and_says_the_names_differ(sandbox, configure, run):
    configure(sandbox)
    result = run(*LINK, "--name", "张晓明", "--ignore-name-mismatch", "--json", expect=0)
    assert result.json["repayment_url"]
    assert "张晓明" in result.stderr and "warning" in result.stderr
    assert [r["outcome"] for r in audit_lines()] == ["fetched"]


def test_a_termination_is_not_sent_when_the_name_differs(sandbox, configure, run):
    configure(sandbox)
    result = run(*TERMINATE, "--name", "李小红", "--yes", "--json", expect=1)
    assert result.error["code"] == "NAME_MISMATCH"
    assert terminations(sandbox) == []
    assert sandbox.state.users[("demo-org", "demo")].contract_state == "CONTRACTED"
    assert [(r["outcome"], r["error"]) for r in audit_lines()] == [("refused", "NAME_MISMATCH")]


def test_the_pupil_is_shown_before_the_name_refusal(sandbox, configure, run):
    """The operator sees whom the id names (WeChat's record) first, then why nothing was sent."""
    configure(sandbox)
    result = run(*TERMINATE, "--name", "李小红", "--yes", "--format", "table", expect=1)
    shown, refusal = result.stderr.find("三年级二班"), result.stderr.find("李小红")
    assert 0 <= shown < refusal, result.stderr


def test_a_termination_is_sent_when_the_name_matches(sandbox, configure, run):
    configure(sandbox)
    result = run(*TERMINATE, "--name", "张小明", "--yes", "--json", expect=0)
    assert result.json["contract_state"] == "TERMINATED"
    assert len(terminations(sandbox)) == 1


def test_a_dry_run_says_the_name_differs(sandbox, configure, run):
    configure(sandbox)
    result = run(*TERMINATE, "--name", "李小红", "--dry-run", "--json", expect=1)
    assert result.error["code"] == "NAME_MISMATCH"


def test_a_pupil_given_by_user_id_cannot_have_their_name_checked(sandbox, configure, run):
    configure(sandbox)
    result = run("contract", "terminate", "--user-id", "wxu_x", "--org", "demo-org", "--name", "张小明", "--yes",
                 expect=2)
    assert "--name" in result.stderr and "--user" in result.stderr
    assert sandbox.received == []


def test_handover_stops_before_the_link_when_the_name_differs(sandbox, configure, run, terminal):
    configure(sandbox)
    result = run("handover", "--user", "demo", "--org", "demo-org", "--name", "李小红", input="y\ny\ny\n", expect=1)
    assert "李小红" in result.stderr and "张小明" in result.stderr
    assert links_sent(sandbox) == [] and terminations(sandbox) == []


def test_name_options_belong_to_their_mode(sandbox, configure, run, tmp_path):
    configure(sandbox)
    roster = tmp_path / "r.csv"
    roster.write_text("out_user_id,organization_id\ndemo,demo-org\n")
    assert "--name" in run(*LINK, "--batch", str(roster), "--name", "张小明", expect=2).stderr
    assert "--name-column" in run(*LINK, "--name-column", "姓名", expect=2).stderr
    assert sandbox.received == []


def test_user_show_takes_no_name(run):
    """`user show` decides nothing: it shows WeChat's name itself."""
    assert "--name" in run(*SHOW, "--name", "张小明", expect=2).stderr


# -- rosters: a name column ----------------------------------------------------------------------------

ROSTER = "姓名,out_user_id,organization_id\n张小明,demo,demo-org\n王小刚,demo-2,demo-org\n"  # demo-2 is 李小红


def test_a_link_batch_with_a_name_column_stops_the_row_whose_name_differs(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--batch", "-", input=ROSTER, expect=1)
    first, second = lines(result.stdout)
    assert first["repayment_url"] and first["姓名"] == "张小明"
    assert second["error"]["code"] == "NAME_MISMATCH" and "repayment_url" not in second
    assert "王小刚" in second["error"]["message"] and "李小红" in second["error"]["message"]
    assert len(user_queries(sandbox)) == 2 and len(links_sent(sandbox)) == 1
    assert sorted((r["out_user_id"], r["outcome"], r["error"]) for r in audit_lines()) == [
        ("demo", "fetched", None), ("demo-2", "refused", "NAME_MISMATCH")]


def test_a_link_written_to_csv_never_goes_with_a_name_that_differs(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--batch", "-", "--format", "csv", input=ROSTER, expect=1)
    assert result.stdout.count("/sandbox/repay/") == 1
    assert "NAME_MISMATCH" in result.stdout.splitlines()[2]


def test_a_link_batch_without_names_makes_no_user_query(sandbox, configure, run):
    configure(sandbox)
    run("repayment-url", "--batch", "-", input="out_user_id,organization_id\ndemo,demo-org\n", expect=0)
    assert user_queries(sandbox) == [] and len(links_sent(sandbox)) == 1


def test_a_blank_name_in_a_name_column_stops_its_row(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--batch", "-", input="姓名,out_user_id,organization_id\n,demo,demo-org\n", expect=1)
    assert lines(result.stdout)[0]["error"]["code"] == "NAME_UNAVAILABLE"
    assert links_sent(sandbox) == []


def test_a_column_called_name_counts_in_any_case_and_json_lines_too(sandbox, configure, run):
    configure(sandbox)
    csv_result = run("repayment-url", "--batch", "-", input=" Name ,out_user_id,organization_id\n李小红,demo,demo-org\n",
                     expect=1)
    assert lines(csv_result.stdout)[0]["error"]["code"] == "NAME_MISMATCH"
    jsonl = '{"out_user_id": "demo", "organization_id": "demo-org", "姓名": "李小红"}\n'
    assert lines(run("repayment-url", "--batch", "-", input=jsonl, expect=1).stdout)[0]["error"]["code"] == \
        "NAME_MISMATCH"
    assert links_sent(sandbox) == []


def test_name_column_names_another_column(sandbox, configure, run):
    configure(sandbox)
    roster = "学生,out_user_id,organization_id\n李小红,demo,demo-org\n"
    result = run("repayment-url", "--batch", "-", "--name-column", "学生", input=roster, expect=1)
    assert lines(result.stdout)[0]["error"]["code"] == "NAME_MISMATCH"
    assert links_sent(sandbox) == []


@pytest.mark.parametrize("text, column, words", [
    ("out_user_id,organization_id\ndemo,demo-org\n", "姓名", ("姓名", "header")),  # not in the file
    ("out_user_id,organization_id,user_name\ndemo,demo-org,张小明\n", "user_name", ("user_name", "WeChat")),
    ("out_user_id,organization_id\ndemo,demo-org\n", "out_user_id", ("out_user_id",)),  # an id is no name
    ("姓名,name,out_user_id,organization_id\n张小明,Zhang,demo,demo-org\n", None, ("姓名", "name", "--name-column")),
])
def test_a_name_column_that_cannot_be_used_is_a_usage_error(sandbox, configure, run, text, column, words):
    configure(sandbox)
    args = ("--name-column", column) if column else ()
    result = run("repayment-url", "--batch", "-", *args, input=text, expect=2)
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert sandbox.received == []


def test_ignore_name_mismatch_in_a_link_batch_makes_no_user_query(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--batch", "-", "--ignore-name-mismatch", input=ROSTER, expect=0)
    assert all(line["repayment_url"] for line in lines(result.stdout))
    assert user_queries(sandbox) == []


def test_a_termination_batch_with_a_name_column_sends_nothing_for_a_name_that_differs(sandbox, configure, run):
    configure(sandbox)
    result = run("contract", "terminate", "--batch", "-", "--yes", input=ROSTER, expect=1)
    first, second = lines(result.stdout)
    assert first["contract_state"] == "TERMINATED" and first["姓名"] == "张小明"
    assert second["error"]["code"] == "NAME_MISMATCH"
    assert len(terminations(sandbox)) == 1
    assert sandbox.state.users[("demo-org", "demo-2")].contract_state == "CONTRACTED"
    assert ("demo-2", "refused", "NAME_MISMATCH") in [(r["out_user_id"], r["outcome"], r["error"])
                                                      for r in audit_lines()]


def test_a_row_given_by_user_id_in_a_roster_with_names_cannot_be_checked(sandbox, configure, run):
    configure(sandbox)
    user_id = sandbox.state.users[("demo-org", "demo")].user_id
    roster = f"姓名,user_id,organization_id\n张小明,{user_id},demo-org\n"
    result = run("contract", "terminate", "--batch", "-", "--yes", input=roster, expect=1)
    assert lines(result.stdout)[0]["error"]["code"] == "NAME_UNAVAILABLE"
    assert terminations(sandbox) == []


def test_help_says_a_name_costs_a_user_query_per_row(run):
    text = run("repayment-url", "--help", expect=0).stdout
    assert "--name-column" in text and "--ignore-name-mismatch" in text
    assert "user query" in " ".join(text.split())
