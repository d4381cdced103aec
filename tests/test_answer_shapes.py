"""A verified answer must still have the documented shape: a field of the wrong type, range
or form is refused naming the field, before anything is shown or sent; WeChat's own forms
(RFC 3339 times, empty optional fields) are read."""

from __future__ import annotations

import pytest
from common import no_traceback, refused, terminations
from hostile import LINK_PATH, USER_PATH

from wxpay_cli.errors import ExitStatus


def link_with(**fields):
    return lambda d: {**d, **fields}


@pytest.mark.parametrize("expire_at", ["2026-11-26T12:00:00Z", "2026-11-26T12:00:00.123456789+08:00"])
def test_rfc_3339_times_as_wechat_writes_them_are_read(hostile, run, expire_at):
    hostile.rewrite(LINK_PATH, link_with(expire_at=expire_at))
    run("repayment-url", "--user", "demo", "--org", "demo-org", "--format", "table", expect=0)


@pytest.mark.parametrize("fields, named", [
    ({"repayment_url": "http://pay.example/x"}, "repayment_url"),
    ({"repayment_url": "javascript:alert(1)"}, "repayment_url"),
    ({"repayment_url": "https://pay.example/a b"}, "repayment_url"),
    ({"repayment_url": "https://a.example/x\nhttps://b.example/y"}, "repayment_url"),
    ({"repayment_url": "https://"}, "repayment_url"),
    ({"repayment_url": ["https://pay.example/x"]}, "repayment_url"),
    ({"expire_at": 1764000000}, "expire_at"),
    ({"expire_at": "9999-12-31T23:59:59+08:00"}, "expire_at"),
    ({"expire_at": "0001-01-01T00:00:00+00:00"}, "expire_at"),
    ({"expire_at": "2026-11-26T12:00:00"}, "expire_at"),
    ({"expire_at": "tomorrow"}, "expire_at"),
    ({"expire_at": "2026-11-26T12:00:00z"}, "expire_at"),
    ({"expire_at": "2026-11-26T12:00:00+99:00"}, "expire_at"),
])
def test_a_link_of_the_wrong_shape_is_refused_naming_the_field(hostile, run, fields, named):
    hostile.rewrite(LINK_PATH, link_with(**fields))
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", "--format", "table")
    refused(result, ExitStatus.VERIFICATION, named)
    assert "pay.example" not in result.stderr


@pytest.mark.parametrize("change", [lambda d: {k: v for k, v in d.items() if k != "expire_at"},
                                    lambda d: {**d, "expire_at": None}], ids=["absent", "null"])
def test_a_link_without_its_expiry_is_refused_not_a_crash(hostile, run, change):
    hostile.rewrite(LINK_PATH, change)
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", "--message", "--format", "table")
    refused(result, ExitStatus.VERIFICATION, "expire_at", "missing")


@pytest.mark.parametrize("fields, named", [
    ({"user_id": ["u"]}, "user_id"),
    ({"user_id": 7}, "user_id"),
    ({"contract_state": 1}, "contract_state"),
    ({"student_info": "Grade 3"}, "student_info"),
    ({"student_info": {"class_name": {"x": 1}}}, "class_name"),
    ({"staff_info": [1]}, "staff_info"),
    ({"face_image_ok": "yes"}, "face_image_ok"),
    ({"user_name": None, "out_user_id": 5}, "out_user_id"),
    ({"user_id": "wxu\x1b[2J"}, "user_id"),
    ({"contract_id": ".."}, "contract_id"),
    ({"user_id": "u" * 257}, "user_id"),
])
def test_a_user_record_of_the_wrong_shape_is_refused_naming_the_field(hostile, run, fields, named):
    hostile.rewrite(USER_PATH, lambda d: {**d, **fields})
    refused(run("user", "show", "--user", "demo", "--org", "demo-org", "--format", "table"),
            ExitStatus.VERIFICATION, named)


def test_empty_optional_fields_are_absent_ones(hostile, run):
    hostile.rewrite(USER_PATH, lambda d: {**d, "contract_id": "", "organization_id": "", "user_type": ""})
    run("user", "show", "--user", "demo", "--org", "demo-org", "--json", expect=0)


def test_a_user_id_that_cannot_be_an_id_stops_a_dry_run_with_exit_5(sandbox, hostile, run):
    hostile.rewrite(USER_PATH, lambda d: {**d, "user_id": "\x1b[2J"})
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--dry-run")
    refused(result, ExitStatus.VERIFICATION, "user_id")


def test_a_user_record_of_the_wrong_shape_stops_a_termination_before_it_is_sent(sandbox, hostile, run):
    hostile.rewrite(USER_PATH, lambda d: {**d, "student_info": "Grade 3"})
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")
    refused(result, ExitStatus.VERIFICATION, "student_info")
    assert terminations(sandbox) == []


@pytest.mark.parametrize("fields, named", [
    ({"contract_signed_time": "9999-01-01T00:00:00+08:00"}, "contract_signed_time"),
    ({"contract_state": ["CONTRACTED"]}, "contract_state"),
    ({"mchid": 1900000001}, "mchid"),
])
def test_a_contract_of_the_wrong_shape_is_refused_naming_the_field(sandbox, hostile, run, fields, named):
    demo = sandbox.state.users[("demo-org", "demo")]
    hostile.rewrite("/v3/offlineface/contracts/", lambda d: {**d, **fields})
    refused(run("contract", "show", demo.contract_id, "--format", "table"), ExitStatus.VERIFICATION, named)


def test_a_row_of_the_wrong_shape_in_batch_is_that_rows_error(sandbox, hostile, run, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("out_user_id,organization_id\ndemo,demo-org\n")
    hostile.rewrite(USER_PATH, lambda d: {**d, "student_info": 3})
    result = run("user", "show", "--batch", str(rows))
    no_traceback(result)
    assert result.exit_code == ExitStatus.VERIFICATION
    assert result.json["error"]["code"] == "VERIFICATION_FAILED"
