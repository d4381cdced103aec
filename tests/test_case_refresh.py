"""`wxpay cases --refresh` asks only about open cases, says which could not be checked (exit 1)
and uses no answer about another organization; the listing's warnings and export columns;
`cases forwarded` for a pupil already terminated."""

from __future__ import annotations

import csv
import io

from common import audit_lines
from test_cases import end, link, write

from wxpay_cli.local.audit import AuditLog


def users_asked(sandbox, since: int) -> list[str]:
    return sorted(r.path.rsplit("/", 1)[-1] for r in sandbox.received[since:] if "/users/out-user-id/" in r.path)


def test_refresh_asks_only_about_open_cases(sandbox, configure, run):
    configure(sandbox)
    run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    run("repayment-url", "--user", "demo-2", "--org", "demo-org", "--json", expect=0)
    run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json", expect=0)
    user = sandbox.state.users[("demo-org", "demo")]
    user.contract_state, user.contract_id = "CONTRACTED", "ct_signed_again"
    run("cases", "--refresh", "--json", expect=0)  # demo is found signed again: closed
    received = len(sandbox.received)
    result = run("cases", "--refresh", "--json", expect=0)
    assert users_asked(sandbox, received) == ["demo-2"]
    assert {line["out_user_id"]: line["stage"] for line in result.lines} == {"demo": "resigned",
                                                                             "demo-2": "link_fetched"}


def test_refresh_that_could_not_check_a_case_exits_1_after_the_listing(sandbox, configure, run):
    mchid = configure(sandbox)["mchid"]
    write(AuditLog().path, [link(0, "nobody-here", organization_id="demo-org", mchid=mchid)])
    run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    result = run("cases", "--refresh", "--json", expect=1)
    assert "REFRESH_INCOMPLETE" in result.stderr or "could not be checked" in result.stderr
    assert "nobody-here" in result.stderr and "Traceback" not in result.stderr
    assert sorted(line["out_user_id"] for line in result.lines) == ["demo", "nobody-here"]


def test_a_refresh_answer_about_another_organization_is_not_used(hostile, sandbox, run):
    from hostile import USER_PATH

    run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    hostile.rewrite(USER_PATH, lambda data: {**data, "organization_id": "1234567", "contract_state": "TERMINATED"})
    result = run("cases", "--refresh", "--concurrency", "1", "--json", expect=5)
    assert "demo" in result.stderr
    assert [line for line in audit_lines() if line["operation"] == "observe"] == []
    assert [line["stage"] for line in run("cases", "--json", expect=0).lines] == ["link_fetched"]


def test_a_single_damaged_line_is_named_without_a_count_of_more(sandbox, configure, run):
    mchid = configure(sandbox)["mchid"]
    path = AuditLog().path
    write(path, [link(0, "A", mchid=mchid)])
    with path.open("ab") as handle:
        handle.write(b"{broken\n")
    result = run("cases", "--json", expect=0)
    assert "line 2" in result.stderr and "more" not in result.stderr


def test_the_csv_export_has_the_json_lines_fields_in_the_same_order(sandbox, configure, run):
    mchid = configure(sandbox)["mchid"]
    write(AuditLog().path, [link(0, "A", mchid=mchid, user_name="王小明", class_name="一年级一班"),
                            end(1, "unknown", "B", mchid=mchid)])
    [first, *_] = run("cases", "--json", expect=0).lines
    rows = list(csv.DictReader(io.StringIO(run("cases", "--format", "csv", expect=0).stdout.lstrip("\ufeff"),
                                           newline="")))
    header = list(rows[0])
    assert [name for name in header if name in first] == list(first)
    row_a = next(row for row in rows if row["out_user_id"] == "A")
    assert (row_a["user_name"], row_a["class_name"]) == ("王小明", "一年级一班")


def test_forwarding_a_terminated_pupils_link_is_recorded_with_a_warning(sandbox, configure, run):
    configure(sandbox)
    run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json", expect=0)
    result = run("cases", "forwarded", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert "the stage stays" in result.stderr
    assert audit_lines()[-1]["operation"] == "forward"
    assert [line["stage"] for line in run("cases", "--json", expect=0).lines] == ["terminated"]
