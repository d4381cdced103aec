"""An id typed as a number, at the edges of its guard: WeChat's other refusals stay what they are
(never taken for a bad cell), the refusal says why the name could not confirm the number and keeps
WeChat's Request-ID, a number given as user_id is never confirmed, and 0 is a number like any other."""

from __future__ import annotations

import pytest
from batchrows import lines, workbook
from test_numeric_ids import HEADER, roster, seed

USER_QUERY = "/users/out-user-id/"


@pytest.mark.parametrize("args", [("repayment-url",), ("contract", "terminate", "--yes")])
def test_wechat_refusing_the_lookup_is_its_own_error_not_a_bad_cell(sandbox, configure, run, tmp_path, args):
    configure(sandbox)
    seed(sandbox)
    sandbox.inject("status", status=403, code="NO_AUTH", message="无权限", path_contains=USER_QUERY, times=5)
    path = workbook(tmp_path / "名单.xlsx", [HEADER, ["张小明", 12345, "demo-org"]])
    [line] = lines(run(*args, "--batch", str(path), expect=1).stdout)
    assert line["error"]["code"] == "NO_AUTH", line
    assert not [r for r in sandbox.received if r.method == "POST"]


@pytest.mark.parametrize("args", [("repayment-url",), ("contract", "terminate", "--yes")])
def test_a_number_naming_nobody_says_so_and_keeps_wechats_request_id(sandbox, configure, run, tmp_path, args):
    configure(sandbox)
    seed(sandbox)
    out = lines(run(*args, "--batch", str(roster(tmp_path)), expect=1).stdout)
    five = out[2]["error"]
    assert five["code"] == "INVALID_ROW" and "WeChat has no pupil it names" in five["message"], five
    assert five["request_id"], five


def test_a_number_given_as_user_id_is_never_confirmed_by_a_name(sandbox, configure, run, tmp_path):
    configure(sandbox)
    seed(sandbox)
    sandbox.state.users[("demo-org", "12345")].user_id = "12345"  # an id WeChat gives as digits
    path = workbook(tmp_path / "名单.xlsx", [["姓名", "user_id", "organization_id"], ["张小明", 12345, "demo-org"]])
    [line] = lines(run("contract", "terminate", "--batch", str(path), "--yes", expect=1).stdout)
    assert line["error"]["code"] == "INVALID_ROW", line
    assert "given by user_id is not looked up" in line["error"]["message"], line
    assert not [r for r in sandbox.received if r.method == "POST"]


def test_zero_typed_as_a_number_is_a_number_not_a_negative_one(sandbox, configure, run, tmp_path):
    configure(sandbox)
    path = workbook(tmp_path / "名单.xlsx", [HEADER, ["张小明", 0, "demo-org"]])
    [line] = lines(run("repayment-url", "--batch", str(path), expect=1).stdout)
    message = line["error"]["message"]
    assert line["error"]["code"] == "INVALID_ROW" and "negative" not in message, message
    assert "out_user_id 0 is a number" in message, message
