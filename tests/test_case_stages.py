"""The stage rules of `wxpay cases` at their edges: which refusals open a case, a case per merchant,
an `unknown` termination answered twice or checked by a later run, a forwarding that keeps the
link's expiry, the contract a case names, and the filters (--user by user_id, --operator in any
case, --since inclusive)."""

from __future__ import annotations

from datetime import datetime

from test_cases import LATE, MCHID, NOW, at, end, fold, link, only, rec, seen

from wxpay_cli.commands.cases import next_step
from wxpay_cli.flows import cases


def test_only_a_4xx_about_the_pupil_opens_a_refused_case():
    """A rate limit (429) or refused credentials (401) say nothing about the pupil; a 4xx without a
    code is still a refusal, named by its status."""
    assert fold(rec(0, "repayment_url", "failed", http_status=429, error="FREQUENCY_LIMITED"),
                rec(1, "repayment_url", "failed", http_status=401, error="SIGN_ERROR")) == []
    case = only(rec(0, "repayment_url", "failed", http_status=403))
    assert (case.stage, case.reason) == ("refused", "HTTP 403")


def test_the_same_pupil_id_at_two_merchants_is_two_cases():
    folded = cases.Fold()
    folded.add(link(0, "A"), 1)
    folded.add(end(1, "succeeded", "A", mchid="1900000999"), 2)
    [ours] = cases.listed(folded, MCHID, NOW)
    [theirs] = cases.listed(folded, "1900000999", NOW)
    assert (ours.stage, theirs.stage) == ("link_fetched", "terminated")


def test_a_second_unknown_keeps_the_stage_before_the_first():
    case = only(link(0), rec(1, "forward", "confirmed"), end(2, "unknown"), end(3, "unknown"),
                seen(9, "CONTRACTED", "ct_old"))
    assert (case.stage, case.since) == ("forwarded", at(1))


def test_a_later_run_finding_not_contracted_does_not_say_the_termination_did_not_happen():
    case = only(link(0), end(2, "unknown"), end(5, "checked", error="LEFT_OPEN: NOT_CONTRACTED"))
    assert case.stage in ("unknown", "terminated")


def test_forwarding_does_not_undo_an_unknown_outcome():
    assert only(link(0), end(1, "unknown"), rec(2, "forward", "confirmed")).stage == "unknown"


def test_a_forwarded_link_keeps_its_expiry_and_stays_forwarded_after_it():
    fetched = link(0)
    case = only(fetched, rec(1, "forward", "confirmed"), now=LATE)
    assert (case.stage, case.expire_at) == ("forwarded", fetched["expire_at"])


def test_going_back_after_unknown_keeps_the_links_expiry():
    fetched = link(0)
    records = (fetched, end(1, "unknown"), seen(2, "CONTRACTED", "ct_old"))
    assert only(*records).expire_at == fetched["expire_at"]
    assert only(*records, now=LATE).stage == "link_expired"


def test_a_termination_keeps_naming_the_contract_it_ended():
    assert only(link(0), end(1, "unknown", contract="ct_old"), seen(2, "NOT_CONTRACTED", "")).contract_id == "ct_old"
    assert only(end(1, "unknown", contract="ct_old"), end(2, "succeeded", contract=None)).contract_id == "ct_old"
    assert only(end(0, "dry_run", contract="ct_x"), end(1, "already_terminated", contract=None)).contract_id == "ct_x"


def test_a_pupil_wechat_reports_terminated_is_terminated_from_a_fetched_link_too():
    for before in ([link(0)], [link(0), rec(1, "forward", "confirmed")]):
        case = only(*before, seen(5, "TERMINATED", "ct_old"))
        assert (case.stage, case.since, case.contract_id) == ("terminated", at(5), "ct_old")


def test_still_contracted_says_the_termination_did_not_happen():
    case = only(end(2, "unknown"), seen(3, "CONTRACTED", "ct_old"))
    assert "did not happen" in next_step(case)


def test_filters_by_user_id_operator_in_any_case_and_since_inclusive():
    listed = fold(link(0, "A", operator="ZhangSan"), end(1, "succeeded", "B", operator="李四"))
    assert [case.out_user_id for case in cases.select(listed, pupil="wxu_B")] == ["B"]
    assert [case.out_user_id for case in cases.select(listed, operator="zhangsan")] == ["A"]
    since = datetime.fromisoformat(at(1))
    assert [case.out_user_id for case in cases.select(listed, since=since)] == ["B"]
