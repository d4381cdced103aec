"""`wxpay cases` (跟进): the stage rules, the index beside the log, filters and formats, and a
case's whole life against the sandbox (links, forwarding, terminations, --refresh)."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from common import audit_lines, terminations

from wxpay_cli.flows import cases
from wxpay_cli.local import case_index
from wxpay_cli.local.audit import AuditLog

MCHID = "1900000001"
NOW = datetime(2026, 11, 26, 6, 10, tzinfo=UTC)  # the made-up records' links expire at 06:30 and after
LATE = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # every one of them has expired


def at(minute: int) -> str:
    return (datetime(2026, 11, 26, 6, 0, tzinfo=UTC) + timedelta(minutes=minute)).isoformat()


def rec(minute: int, operation: str, outcome: str, pupil: str = "20240001", **fields) -> dict:
    """A record as wxpay writes it, `minute` minutes after 06:00 UTC on 2026-11-26."""
    record = {"time": at(minute), "operator": "张三", "host": "ops-01", "profile": "school-a", "mchid": MCHID,
              "operation": operation, "organization_id": "1234567", "out_user_id": pupil, "user_id": None,
              "contract_id": None, "outcome": outcome, "http_status": None, "request_id": None, "error": None,
              "expire_at": None, "user_name": None, "class_name": None, "contract_state": None}
    record.update(fields)
    return record


def link(minute: int, pupil: str = "20240001", *, expires_after: int = 30, **fields) -> dict:
    expire = (datetime.fromisoformat(at(minute)) + timedelta(minutes=expires_after)).isoformat()
    return rec(minute, "repayment_url", "fetched", pupil, **{"http_status": 200, "expire_at": expire, **fields})


def end(minute: int, outcome: str, pupil: str = "20240001", contract: str = "ct_old", **fields) -> dict:
    return rec(minute, "terminate", outcome, pupil, user_id=f"wxu_{pupil}", contract_id=contract, **fields)


def seen(minute: int, state: str, contract: str, pupil: str = "20240001") -> dict:
    return rec(minute, "observe", "observed", pupil, user_id=f"wxu_{pupil}", contract_id=contract,
               contract_state=state, http_status=200)


def fold(*records: dict, now: datetime = NOW) -> list[cases.Case]:
    folded = cases.Fold()
    for number, record in enumerate(records, start=1):
        folded.add(record, number)
    return cases.listed(folded, MCHID, now)


def only(*records: dict, now: datetime = NOW) -> cases.Case:
    (case,) = fold(*records, now=now)
    return case


# -- the stage rules -----------------------------------------------------------------


def test_a_link_is_fetched_until_it_expires_then_expired_since_its_expiry():
    fetched = link(0, user_name="张三丰", class_name="三年级二班")
    case = only(fetched, now=datetime.fromisoformat(at(10)))
    assert (case.stage, case.since, case.operator, case.user_name, case.class_name) == (
        "link_fetched", at(0), "张三", "张三丰", "三年级二班")
    assert only(fetched, now=datetime.fromisoformat(at(31))).stage == "link_expired"
    assert only(fetched, now=datetime.fromisoformat(at(31))).since == fetched["expire_at"]


def test_older_records_without_the_new_fields_still_show():
    """Records written before this version: no expire_at, no name or class."""
    old = {key: value for key, value in link(0).items() if key not in ("expire_at", "user_name", "class_name",
                                                                        "contract_state")}
    case = only(old)
    assert (case.stage, case.expire_at, case.user_name) == ("link_fetched", None, None)
    from wxpay_cli.commands.cases import next_step

    assert "expiry was not recorded" in next_step(case)


@pytest.mark.parametrize("outcome", ["dry_run", "declined", "not_sent", "attempted"])
def test_dry_runs_declined_questions_and_unsent_attempts_change_nothing(outcome):
    case = only(link(0), rec(1, "forward", "confirmed"), end(2, outcome))
    assert (case.stage, case.since) == ("forwarded", at(1))


@pytest.mark.parametrize("code", ["NOT_CONFIRMED", "PUPIL_BUSY", "DUPLICATE_ROW", "REPLAY_MEMORY", "LEFT_OPEN"])
def test_refusals_that_say_nothing_about_the_pupil_change_nothing(code):
    assert only(link(0), end(1, "refused", error=code)).stage == "link_fetched"


def test_refusals_about_the_pupil_are_refused_with_why():
    assert (only(link(0), end(1, "refused", error="NOT_CONTRACTED")).reason) == "NOT_CONTRACTED"
    case = only(rec(0, "repayment_url", "refused", error="NAME_MISMATCH"))
    assert (case.stage, case.reason) == ("refused", "NAME_MISMATCH")
    case = only(rec(0, "repayment_url", "failed", http_status=404, error="RESOURCE_NOT_EXISTS"))
    assert (case.stage, case.reason) == ("refused", "RESOURCE_NOT_EXISTS")
    # a network failure or a 5xx is not a refusal: no case at all
    assert fold(rec(0, "repayment_url", "failed", error="NETWORK_ERROR"),
                rec(1, "repayment_url", "failed", http_status=500, error="SYSTEM_ERROR")) == []


def test_a_later_already_terminated_does_not_reopen_a_case():
    closed = [link(0), end(1, "succeeded"), seen(2, "CONTRACTED", "ct_new")]
    assert only(*closed).stage == "resigned"
    assert only(*closed, end(3, "already_terminated", contract="ct_new")).stage == "resigned"
    terminated = only(link(0), end(1, "succeeded"), end(5, "already_terminated", operator="李四"))
    assert (terminated.stage, terminated.since, terminated.operator) == ("terminated", at(1), "张三")


def test_already_terminated_found_by_a_first_termination_is_terminated():
    case = only(link(0), end(3, "already_terminated", contract="ct_x"))
    assert (case.stage, case.contract_id) == ("terminated", "ct_x")


def test_an_unknown_termination_is_resolved_by_what_is_observed():
    before = [link(0), rec(1, "forward", "confirmed"), end(2, "unknown", error="NETWORK_ERROR")]
    assert (only(*before).stage, only(*before).reason) == ("unknown", "NETWORK_ERROR")
    happened = only(*before, seen(9, "TERMINATED", "ct_old"))
    assert (happened.stage, happened.since, happened.contract_id) == ("terminated", at(2), "ct_old")
    assert only(*before, seen(9, "NOT_CONTRACTED", "")).stage == "terminated"
    # still CONTRACTED under the contract terminated: it did not happen, the stage before it is back
    back = only(*before, seen(9, "CONTRACTED", "ct_old"))
    assert (back.stage, back.since) == ("forwarded", at(1))
    assert only(*before, seen(9, "CONTRACTED", "ct_new")).stage == "resigned"


def test_an_unknown_termination_checked_by_a_later_run_goes_back():
    case = only(link(0), end(2, "unknown"), end(5, "checked", error="LEFT_OPEN: CONTRACTED"))
    assert case.stage == "link_fetched"
    assert only(end(2, "unknown"), seen(3, "CONTRACTED", "ct_old")).reason == "STILL_CONTRACTED"


def test_a_termination_wechat_carries_out_after_a_refresh_found_it_still_contracted_is_terminated():
    """WeChat may still act on a request whose answer was lost: a --refresh right after the
    `unknown` sees CONTRACTED, a later one TERMINATED; the case must not stay "did not happen"."""
    alone = [end(2, "unknown"), seen(3, "CONTRACTED", "ct_old")]
    assert only(*alone).reason == "STILL_CONTRACTED"
    for state in ("TERMINATED", "NOT_CONTRACTED"):
        late = only(*alone, seen(9, state, "ct_old"))
        assert (late.stage, late.reason) == ("terminated", None), state
    assert only(*alone, seen(9, "CONTRACTED", "ct_old")).reason == "STILL_CONTRACTED"
    after_link = [link(0), end(2, "unknown"), seen(3, "CONTRACTED", "ct_old")]
    assert only(*after_link).stage == "link_fetched"
    assert only(*after_link, seen(9, "TERMINATED", "ct_old")).stage == "terminated"


def test_resigned_means_contracted_under_another_contract_than_the_one_terminated():
    terminated = [link(0), end(1, "succeeded", contract="ct_old")]
    assert only(*terminated, seen(5, "CONTRACTED", "ct_old")).stage == "terminated"
    assert only(*terminated, seen(5, "NOT_CONTRACTED", "")).stage == "terminated"
    resigned = only(*terminated, seen(5, "CONTRACTED", "ct_new", ))
    assert (resigned.stage, resigned.since, resigned.contract_id, resigned.open) == (
        "resigned", at(5), "ct_new", False)


def test_forwarding_does_not_undo_a_termination_and_a_new_link_reopens_a_closed_case():
    assert only(link(0), end(1, "succeeded"), rec(2, "forward", "confirmed")).stage == "terminated"
    closed = [link(0), end(1, "succeeded"), seen(2, "CONTRACTED", "ct_new")]
    # The old link's forwarding recorded late (`wxpay cases forwarded`) must not reopen the closed case
    # with "terminate the contract" as its next step: that would be the family's new contract.
    assert only(*closed, rec(3, "forward", "confirmed")).stage == "resigned"
    assert only(*closed, link(3)).stage == "link_fetched"


def test_newest_activity_first_and_observations_that_change_nothing_do_not_reorder():
    listed = fold(link(0, "A"), link(1, "B"), seen(2, "CONTRACTED", "ct", pupil="A"))
    assert [case.out_user_id for case in listed] == ["B", "A"]
    changed = fold(link(0, "A"), end(1, "succeeded", "A"), link(2, "B"), seen(3, "CONTRACTED", "ct_new", "A"))
    assert [(case.out_user_id, case.stage) for case in changed] == [("A", "resigned"), ("B", "link_fetched")]


def test_a_pupil_known_only_by_user_id_is_keyed_by_it_unless_an_earlier_record_names_them():
    alone = only(rec(0, "terminate", "succeeded", pupil=None, user_id="wxu_9", contract_id="ct"))
    assert (alone.out_user_id, alone.user_id, alone.stage) == (None, "wxu_9", "terminated")
    named = only(end(0, "dry_run", pupil="A"), rec(1, "terminate", "succeeded", pupil=None, user_id="wxu_A"))
    assert (named.out_user_id, named.stage) == ("A", "terminated")


def test_only_the_profiles_merchant():
    assert fold(link(0, mchid="1900000999")) == []


# -- the index beside the log ----------------------------------------------------------


def write(path, records, mode="w") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def stages(log: AuditLog) -> dict:
    reading = cases.read(log)
    return {case.out_user_id: case.stage for case in cases.listed(reading.fold, MCHID, LATE)}


def test_the_index_is_private_and_a_second_run_reads_only_the_new_lines(tmp_path):
    log = AuditLog(tmp_path / "state" / "audit.jsonl")
    pupils = [f"P{n:02d}" for n in range(20)]
    write(log.path, [link(n, pupil) for n, pupil in enumerate(pupils)])
    assert stages(log) == {pupil: "link_expired" for pupil in pupils}
    index = case_index.index_path(log.path)
    assert oct(index.stat().st_mode & 0o777) == "0o600"
    # A line past the log's first 4 KiB changed in place (same length, far from the end): the
    # index is trusted for what it folded, so only the appended line is read.
    text = log.path.read_text(encoding="utf-8")
    assert text.index('"P15"') > 4096
    log.path.write_text(text.replace('"P15"', '"Q15"'), encoding="utf-8")
    write(log.path, [end(30, "succeeded", "P19")], mode="a")
    assert stages(log) == {**{pupil: "link_expired" for pupil in pupils}, "P19": "terminated"}
    os.unlink(index)  # rebuilt from the log as it is now
    assert stages(log) == {**{pupil: "link_expired" for pupil in pupils if pupil != "P15"}, "Q15": "link_expired",
                           "P19": "terminated"}


@pytest.mark.parametrize("change", ["truncated", "replaced", "rewritten", "edited", "garbage", "other kind"])
def test_the_index_is_rebuilt_when_it_cannot_be_trusted(tmp_path, change):
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(0, "A"), end(1, "succeeded", "A"), link(2, "B")])
    assert stages(log) == {"A": "terminated", "B": "link_expired"}
    index = case_index.index_path(log.path)
    if change == "truncated":  # shorter than the offset folded, then a new line
        write(log.path, [link(3, "C")])
        expected = {"C": "link_expired"}
    elif change == "replaced":  # another file (rotated): another inode, even if longer
        new = tmp_path / "new.jsonl"
        write(new, [link(3, "C"), link(4, "D"), link(5, "E"), link(6, "F")])
        os.replace(new, log.path)
        expected = {name: "link_expired" for name in "CDEF"}
    elif change == "rewritten":  # same inode, same length, the last line changed (its end, and its pupil)
        text = log.path.read_text(encoding="utf-8")
        head, last = text[:-1].rsplit("\n", 1)
        last = last.replace('"class_name": null', '"class_name": "ab"').replace('"B"', '"Z"')
        log.path.write_text(f"{head}\n{last}\n", encoding="utf-8")
        assert len(log.path.read_bytes()) == len(text.encode())
        expected = {"A": "terminated", "Z": "link_expired"}
    elif change == "edited":  # same inode, same length, the first line changed
        text = log.path.read_text(encoding="utf-8")
        log.path.write_text(text.replace('"A"', '"Y"', 1), encoding="utf-8")
        expected = {"Y": "link_expired", "A": "terminated", "B": "link_expired"}
    elif change == "garbage":
        index.write_bytes(b"\x00not json")
        expected = {"A": "terminated", "B": "link_expired"}
    else:
        data = json.loads(index.read_text())
        data["kind"], data["state"] = "cases-0", {"cases": {}, "user_ids": {}}
        index.write_text(json.dumps(data))
        expected = {"A": "terminated", "B": "link_expired"}
    assert stages(log) == expected


@pytest.mark.parametrize("state", [
    {"cases": [], "user_ids": {}},
    {"cases": {"k": {"mchid": MCHID, "org": "1234567", "out": "Z", "uid": None}}, "user_ids": {}},
    {"cases": {"k": {"mchid": MCHID, "org": "1234567", "out": "Z", "uid": None, "stage": "closed"}},
     "user_ids": {}},
    {"cases": {"k": {"mchid": MCHID, "org": "1234567", "out": "Z", "uid": None, "stage": "unknown",
                     "before": {"stage": 7}}}, "user_ids": {}},
    {"cases": {}, "user_ids": {"x": ["A"]}},
])
def test_an_index_that_matches_the_log_but_not_what_wxpay_writes_is_set_aside(tmp_path, state):
    """An index edited by hand or damaged inside its JSON (its fingerprint of the log intact) must
    not stop `wxpay cases` for good: it is read as no index, and the log read whole."""
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [end(1, "unknown", "A"), seen(2, "CONTRACTED", "ct_old", "A")])
    assert stages(log) == {"A": "refused"}
    index = case_index.index_path(log.path)
    data = json.loads(index.read_text())
    index.write_text(json.dumps(dict(data, state=state)))
    assert stages(log) == {"A": "refused"}
    assert json.loads(index.read_text())["state"] != state  # written anew


def test_times_a_log_cannot_hold_are_shown_as_they_came_not_a_crash(sandbox, configure, run, monkeypatch):
    """A hand-edited log whose times are at the calendar's ends (year 9999 west of UTC): shown as
    written by `wxpay cases`, listed by `wxpay audit`, never an internal error."""
    mchid = configure(sandbox)["mchid"]
    write(AuditLog().path, [link(0, "A", mchid=mchid, time="9999-12-31T23:59:59-01:00",
                                 expire_at="0001-01-01T00:00:00+01:00")])
    monkeypatch.setattr("wxpay_cli.terminal.output.stdout_is_terminal", lambda: True)
    shown = run("cases", expect=0).stdout
    assert "9999-12-31" in shown and "link fetched" in shown
    assert run("cases", "--since", "2026-01-01", expect=0).exit_code == 0
    assert "fetched" in run("audit", expect=0).stdout


def test_a_damaged_line_is_named_and_skipped_also_when_read_through_the_index(sandbox, configure, run):
    table = configure(sandbox)
    log = AuditLog()
    write(log.path, [link(0, "A", mchid=table["mchid"])])
    with log.path.open("ab") as handle:
        handle.write(b'{"time": "2026-11-26T06:01:00+00:00", "operation": "term\n')
    write(log.path, [link(2, "B", mchid=table["mchid"])], mode="a")
    for _ in range(2):  # the index is written by the first run, read by the second
        result = run("cases", "--json", expect=0)
        assert [line["out_user_id"] for line in result.lines] == ["B", "A"]
        assert "1 unreadable lines" in result.stderr and "line 2" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_line_cut_short_at_the_end_is_never_folded_twice(tmp_path):
    """A last line without its newline is read for this run only; wxpay's next append starts on
    a new line, and the cut line is then a damaged line, counted once."""
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(0, "A")])
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(end(1, "succeeded", "A")))  # no newline yet
    reading = cases.read(log)
    assert cases.listed(reading.fold, MCHID, NOW)[0].stage == "terminated"
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write("\n")
    write(log.path, [seen(2, "CONTRACTED", "ct_new", "A")], mode="a")
    reading = cases.read(log)
    assert cases.listed(reading.fold, MCHID, NOW)[0].stage == "resigned"
    assert reading.damaged_count == 0


def test_cases_work_when_the_index_cannot_be_written(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    write(log.path, [link(0, "A")])
    case_index.index_path(log.path).mkdir()  # a folder where the index would go
    assert stages(log) == {"A": "link_expired"}
    assert stages(log) == {"A": "link_expired"}


# -- the command -----------------------------------------------------------------------


@pytest.fixture
def logged(sandbox, configure):
    """A profile, and a log of four pupils of its merchant (and one of another)."""
    mchid = configure(sandbox)["mchid"]
    now = datetime.now(UTC)

    def when(minutes_ago: int) -> str:
        return (now - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")

    records = [
        link(0, "A", time=when(300), expire_at=when(270), user_name="王小明", class_name="一年级一班"),
        link(0, "B", time=when(200), expire_at=when(-30), operator="李四", organization_id="7654321"),
        link(0, "C", time=when(100), expire_at=when(-30)),
        rec(0, "forward", "confirmed", "C", time=when(90)),
        end(0, "unknown", "D", time=when(80)),
        end(0, "succeeded", "E", time=when(70), user_name="赵六"),
        seen(0, "CONTRACTED", "ct_new", "E") | {"time": when(60)},
        link(0, "X", time=when(10), mchid="1900000999"),
    ]
    write(AuditLog().path, [dict(record, mchid=record["mchid"] if record["mchid"] != MCHID else mchid)
                            for record in records])
    return mchid


def test_one_row_per_pupil_newest_activity_first_with_stable_json(logged, run):
    lines = run("cases", "--json", expect=0).lines
    assert [(line["out_user_id"], line["stage"]) for line in lines] == [
        ("E", "resigned"), ("D", "unknown"), ("C", "forwarded"), ("B", "link_fetched"), ("A", "link_expired")]
    assert list(lines[0])[:9] == ["organization_id", "out_user_id", "user_id", "user_name", "class_name", "stage",
                                  "since", "operator", "next_step"]
    assert lines[0]["contract_id"] == "ct_new" and "expire_at" not in lines[0]
    assert lines[-1]["user_name"] == "王小明" and lines[-1]["next_step"].startswith("fetch a new link")
    zh = run("--lang", "zh", "cases", "--json", expect=0).lines
    assert [line["stage"] for line in zh] == [line["stage"] for line in lines]
    assert [line["next_step"] for line in zh] == [line["next_step"] for line in lines]  # English in JSON


def test_filters(logged, run):
    def pupils(*args: str) -> list[str]:
        return [line["out_user_id"] for line in run("cases", "--json", *args, expect=0).lines]

    assert pupils("--open") == ["D", "C", "B", "A"]
    assert pupils("--org", "7654321") == ["B"]
    assert pupils("--operator", "李四") == ["B"]
    assert pupils("--stage", "unknown") == ["D"]
    assert pupils("--stage", "结果不明") == ["D"]
    assert pupils("--stage", "Link Expired") == ["A"]
    assert pupils("--stage", "已重新签约") == ["E"]
    assert pupils("--user", "C") == ["C"]
    since = (datetime.now(UTC) - timedelta(minutes=95)).isoformat(timespec="seconds")
    assert pupils("--since", since) == ["E", "D", "C"]
    assert pupils("--open", "--stage", "resigned") == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_an_unknown_stage_is_a_usage_error_listing_the_valid_ones(logged, run, lang):
    result = run("--lang", lang, "cases", "--stage", "closed", expect=2)
    assert "link_fetched" in result.stderr and "resigned" in result.stderr and "refused" in result.stderr


def test_the_chinese_table_names_each_stage_and_never_cuts_an_id_or_a_name(logged, run, monkeypatch):
    monkeypatch.setattr("wxpay_cli.terminal.output.stdout_is_terminal", lambda: True)
    result = run("--lang", "zh", "cases", env={"COLUMNS": "80"}, expect=0)
    for words in ("阶段", "下一步", "链接已过期", "已转发", "结果不明", "已重新签约", "王小明", "一年级一班", "赵六"):
        assert words in result.stdout, (words, result.stdout)
    assert "…" not in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    # A command in the next step is folded only at its spaces, so it can be read (and typed) as is.
    words = result.stdout.split()
    assert "wxpay" in words and "--refresh" in words, result.stdout


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_command_a_next_step_names_is_never_folded_mid_word_at_80_columns(sandbox, configure, run, monkeypatch,
                                                                              lang):
    """The rehearsal's pupils (a long id, a name and class): the table leaves the next step little
    room, and `wxpay cases --refresh` must still read whole words, never `wxp` / `ay`."""
    mchid = configure(sandbox)["mchid"]
    now = datetime.now(UTC)
    write(AuditLog().path, [
        dict(end(0, "unknown", "demo-unanswered", user_name="赵小雨", class_name="二年级一班"),
             mchid=mchid, time=now.isoformat(timespec="seconds")),
        dict(end(0, "succeeded", "demo-2", user_name="李小红", class_name="五年级一班"),
             mchid=mchid, time=now.isoformat(timespec="seconds")),
        dict(rec(0, "repayment_url", "refused", "demo-3", error="NAME_MISMATCH"),
             mchid=mchid, time=now.isoformat(timespec="seconds")),
    ])
    monkeypatch.setattr("wxpay_cli.terminal.output.stdout_is_terminal", lambda: True)
    shown = run("--lang", lang, "cases", env={"COLUMNS": "80"}, expect=0).stdout
    for word in ("wxpay", "cases", "--refresh", "赵小雨", "李小红", "NAME_MISMATCH"):
        assert word in shown, (word, shown)


def test_csv_and_workbook_take_every_field_in_the_same_order(logged, run, tmp_path):
    from batchrows import read_workbook

    from wxpay_cli.commands.cases import FIELDS

    result = run("--lang", "zh", "cases", "--format", "csv", expect=0)
    rows = list(csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff"), newline="")))
    assert list(rows[0]) == list(FIELDS)
    # As in batch output: the stage is a stable code (like error_code), the next step a sentence
    # for the operator (like error_message), in the operator's language.
    assert rows[0]["stage"] == "resigned" and rows[0]["next_step"] == "无：已结案"
    english = run("--lang", "en", "cases", "--format", "csv", expect=0).stdout
    assert list(csv.DictReader(io.StringIO(english.lstrip("\ufeff"), newline="")))[0]["next_step"] == \
        "none: the case is closed"
    path = tmp_path / "跟进.xlsx"
    written = run("--lang", "zh", "cases", "--open", "-o", str(path), expect=0)
    assert written.stdout == "" and f"结果已写入 {path}" in written.stderr  # as after a batch
    header, *cells = read_workbook(path)
    assert [value for value, _type in header] == list(FIELDS)
    assert [row[1][0] for row in cells] == ["D", "C", "B", "A"]


def test_no_cases_yet_is_said(sandbox, configure, run, monkeypatch):
    configure(sandbox)
    monkeypatch.setattr("wxpay_cli.terminal.output.stdout_is_terminal", lambda: True)
    assert "no cases yet" in run("cases", expect=0).stderr
    assert run("cases", "--json", expect=0).stdout == ""


def test_forwarded_is_a_record_only_and_says_when_no_link_was_fetched(sandbox, configure, run):
    configure(sandbox)
    result = run("cases", "forwarded", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert "no link fetched" in result.stderr
    assert sandbox.received == []  # nothing fetched, nothing asked
    run("repayment-url", "--user", "demo-2", "--org", "demo-org", "--json", expect=0)
    result = run("cases", "forwarded", "--user", "demo-2", "--org", "demo-org", "--json", expect=0)
    assert result.stderr == ""
    last = audit_lines()[-1]
    assert (last["operation"], last["outcome"], last["out_user_id"]) == ("forward", "confirmed", "demo-2")
    assert last["expire_at"] == audit_lines()[-2]["expire_at"] is not None
    assert [line["out_user_id"] for line in run("cases", "--stage", "forwarded", "--json", expect=0).lines] == [
        "demo-2", "demo"]
    assert run("cases", "--open", "forwarded", "--user", "demo", "--org", "demo-org", expect=2).exit_code == 2


def test_forwarded_for_a_case_already_closed_says_the_stage_stays(sandbox, configure, run):
    mchid = configure(sandbox)["mchid"]
    write(AuditLog().path, [dict(record, mchid=mchid) for record in (
        link(0, "demo"), end(1, "succeeded", "demo"), seen(2, "CONTRACTED", "ct_new", "demo"))])
    result = run("cases", "forwarded", "--user", "demo", "--org", "1234567", "--json", expect=0)
    assert "the stage stays" in result.stderr
    assert [line["stage"] for line in run("cases", "--json", expect=0).lines] == ["resigned"]


def test_audit_shows_and_filters_the_new_record_kinds(sandbox, configure, run):
    configure(sandbox)
    run("cases", "forwarded", "--user", "demo", "--org", "demo-org", expect=0)
    assert [line["operation"] for line in run("audit", "--operation", "转发", "--json", expect=0).lines] == [
        "forward"]
    assert run("audit", "--outcome", "observed", "--json", expect=0).stdout == ""


# -- a case's whole life, against the sandbox ------------------------------------------


def test_links_forwarding_terminations_and_refresh_end_to_end(sandbox, configure, run):
    """Three pupils: links for all, one forwarded, two terminated (one ends `unknown`: its answer
    is lost, and the sandbox terminates it later), one signs again; --refresh resolves and closes."""
    configure(sandbox, timeout=0.5)
    org = "demo-org"
    for number, name in enumerate(("陈一", "陈二", "陈三"), start=1):
        sandbox.seed_user(org, f"2023000{number}", user_name=name, class_name="一年级一班", encrypt_name=False)
    for pupil in ("20230001", "20230002", "20230003"):
        run("repayment-url", "--user", pupil, "--org", org, "--json", expect=0)
    run("cases", "forwarded", "--user", "20230001", "--org", org, expect=0)
    run("contract", "terminate", "--user", "20230002", "--org", org, "--yes", "--json", expect=0)
    sandbox.inject("delay", seconds=1.0, path_contains="terminate-contract")
    run("contract", "terminate", "--user", "20230003", "--org", org, "--yes", expect=4)
    assert [line["outcome"] for line in audit_lines()][-1] == "unknown"
    assert {line["out_user_id"]: line["stage"] for line in run("cases", "--json", expect=0).lines} == {
        "20230001": "forwarded", "20230002": "terminated", "20230003": "unknown"}
    # Terminations look the pupil up: their name is recorded; `repayment-url --json` made no lookup.
    assert {line["out_user_id"]: line["user_name"] for line in run("cases", "--json", expect=0).lines} == {
        "20230001": None, "20230002": "陈二", "20230003": "陈三"}

    # The family of 20230002 signs again with another WeChat account: a new contract.
    resigned = sandbox.state.users[(org, "20230002")]
    resigned.contract_state, resigned.contract_id = "CONTRACTED", "ct_resigned_0002"
    import time

    deadline = time.monotonic() + 5  # the delayed termination of 20230003 takes effect at the sandbox
    while sandbox.state.users[(org, "20230003")].contract_state != "TERMINATED" and time.monotonic() < deadline:
        time.sleep(0.05)
    received = len(sandbox.received)
    result = run("cases", "--refresh", "--json", expect=0)
    asked = sandbox.received[received:]
    assert sorted(r.path.rsplit("/", 1)[-1] for r in asked) == ["20230001", "20230002", "20230003"]
    assert {r.method for r in asked} == {"GET"} and all("/users/out-user-id/" in r.path for r in asked)
    assert len(terminations(sandbox)) == 2  # read-only: no termination was sent
    assert {line["out_user_id"]: line["stage"] for line in result.lines} == {
        "20230001": "forwarded", "20230002": "resigned", "20230003": "terminated"}
    observed = [line for line in audit_lines() if line["operation"] == "observe"]
    assert len(observed) == 3 and {line["outcome"] for line in observed} == {"observed"}
    assert {line["contract_state"] for line in observed} == {"CONTRACTED", "TERMINATED"}
    # What the refresh learnt is in the log: the next listing without --refresh shows it.
    assert [line["out_user_id"] for line in run("cases", "--open", "--json", expect=0).lines] == [
        "20230003", "20230001"]
    zh = run("--lang", "zh", "cases", "--format", "table", env={"COLUMNS": "120"}, expect=0).stdout
    for words in ("已重新签约", "已解约·待重新签约", "已转发"):
        assert words in zh


def test_refresh_skips_cases_known_only_by_user_id_and_says_so(sandbox, configure, run):
    configure(sandbox)
    user_id = sandbox.state.users[("demo-org", "demo")].user_id
    run("contract", "terminate", "--user-id", user_id, "--org", "demo-org", "--yes", "--json", expect=0)
    received = len(sandbox.received)
    result = run("cases", "--refresh", "--json", expect=0)
    assert "known only by WeChat's user_id" in result.stderr and user_id in result.stderr
    assert sandbox.received[received:] == []
    assert [(line["user_id"], line["stage"]) for line in result.lines] == [(user_id, "terminated")]


def test_a_refresh_answer_about_another_pupil_is_not_used(hostile, sandbox, run):
    """Each answer is checked as every user answer is: one naming another pupil is not recorded
    and stops the refresh (exit 5), the listing still shown as it was."""
    from hostile import USER_PATH

    run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    run("contract", "terminate", "--user", "demo-2", "--org", "demo-org", "--yes", "--json", expect=0)
    hostile.rewrite(USER_PATH, lambda data: {**data, "out_user_id": "demo-terminated"})
    hostile.rewrite(USER_PATH, lambda data: {**data, "out_user_id": "demo-terminated"})
    result = run("cases", "--refresh", "--concurrency", "1", "--json", expect=5)
    assert "demo" in result.stderr
    assert [line for line in audit_lines() if line["operation"] == "observe"] == []


def test_handover_records_the_forwarding_it_asks_about(sandbox, configure, run, terminal):
    configure(sandbox)
    run("handover", "--user", "demo", "--org", "demo-org", input="y\ny\ny\n", env={"COLUMNS": "200"}, expect=0)
    steps = [(line["operation"], line["outcome"]) for line in audit_lines()]
    assert steps[:2] == [("repayment_url", "fetched"), ("forward", "confirmed")]
    assert steps[-1] == ("terminate", "succeeded")
    forward = audit_lines()[1]
    assert (forward["user_name"], forward["class_name"]) == ("张小明", "三年级二班")
    assert forward["expire_at"] == audit_lines()[0]["expire_at"] is not None
    (case,) = run("cases", "--json", expect=0).lines
    assert (case["stage"], case["user_name"]) == ("terminated", "张小明")


def test_handover_answered_no_at_the_forwarding_records_no_forwarding(sandbox, configure, run, terminal):
    configure(sandbox)
    run("handover", "--user", "demo", "--org", "demo-org", input="y\nn\n", expect=1)
    assert [line["operation"] for line in audit_lines()] == ["repayment_url"]
    assert [line["stage"] for line in run("cases", "--json", expect=0).lines] == ["link_fetched"]


def test_a_log_put_in_place_of_another_is_read_whole_even_when_its_start_and_end_match(tmp_path):
    """Another file (a new inode: rotated, restored from a copy) is never read through the old
    file's index, even when the bytes the index remembers are the same in it."""
    log = AuditLog(tmp_path / "audit.jsonl")
    pupils = [f"P{n:02d}" for n in range(20)]
    write(log.path, [link(n, pupil) for n, pupil in enumerate(pupils)])
    stages(log)
    copy = tmp_path / "copy.jsonl"
    copy.write_text(log.path.read_text(encoding="utf-8").replace('"P15"', '"Q15"'), encoding="utf-8")
    os.replace(copy, log.path)
    assert "Q15" in stages(log) and "P15" not in stages(log)
