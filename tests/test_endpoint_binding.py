"""A signed answer is bound to the question it answers: one endpoint's answer never passes as
another's, and a termination goes only to a pupil WeChat's answer names."""

from __future__ import annotations

import json

import pytest

USER_PATH = "/users/out-user-id/demo"
TERMINATE = ("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")
# A contract query's answer, validly signed, about another pupil's contract.
CONTRACT_ANSWER = {"contract_id": "ct_other", "mchid": "1900000001", "organization_id": "demo-org",
                   "user_id": "wxu_other", "openid": "o_other", "contract_state": "CONTRACTED",
                   "contract_signed_time": "2024-01-05T10:00:00+08:00", "contract_mode": "MODE_FACE"}


def posts(sandbox) -> list:
    return [r for r in sandbox.received if r.method == "POST"]


def outcomes(run) -> list[str]:
    """The audit log's outcomes, oldest first."""
    return [json.loads(line)["outcome"] for line in run("audit", "--json").stdout.splitlines()][::-1]


def test_a_contract_answer_served_for_the_user_query_terminates_nobody(hostile, sandbox, run):
    hostile.signed(USER_PATH, json.dumps(CONTRACT_ANSWER).encode())
    result = run(*TERMINATE)
    assert result.exit_code == 5, result.stderr
    assert posts(sandbox) == []


def test_a_contract_answer_is_not_shown_as_a_pupil(hostile, run):
    hostile.signed(USER_PATH, json.dumps(CONTRACT_ANSWER).encode())
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--json")
    assert result.exit_code == 5 and result.stdout == ""
    assert "not an answer to the user query" in result.stderr, result.stderr


def test_a_user_answer_holding_an_organization_field_is_refused(hostile, sandbox, run):
    """organization_name is declared by the organization query alone: an answer holding it is not a pupil's."""
    hostile.rewrite(USER_PATH, lambda d: {**d, "organization_name": "另一所学校"})
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--json")
    assert result.exit_code == 5 and result.stdout == "", result.stderr
    assert "not an answer to the user query" in result.stderr and "organization_name" in result.stderr
    hostile.rewrite(USER_PATH, lambda d: {**d, "organization_name": "另一所学校"})
    assert run(*TERMINATE).exit_code == 5
    assert posts(sandbox) == []


@pytest.mark.parametrize("change", [
    lambda d: {k: v for k, v in d.items() if k != "out_user_id"},
    lambda d: {k: v for k, v in d.items() if k != "organization_id"},
    lambda d: {**{k: v for k, v in d.items() if k != "out_user_id"}, "OUT_USER_ID": "demo"},
], ids=["no out_user_id", "no organization_id", "out_user_id in other letters"])
def test_a_user_answer_that_does_not_name_the_pupil_terminates_nobody(hostile, sandbox, run, change):
    hostile.rewrite(USER_PATH, change)
    result = run(*TERMINATE)
    assert result.exit_code == 5, result.stderr
    assert posts(sandbox) == []
    assert "did not name the pupil" in result.stderr and "--user-id" in result.stderr, result.stderr
    [record] = [json.loads(line) for line in run("audit", "--json").stdout.splitlines()]
    assert (record["outcome"], record["error"], record["out_user_id"]) == ("refused", "PUPIL_NOT_NAMED", "demo")


def test_a_re_query_about_another_pupil_after_the_post_is_an_error_not_a_note(hostile, sandbox, run):
    hostile.rewrite(USER_PATH, lambda d: d)  # the lookup: as it came
    hostile.rewrite(USER_PATH, lambda d: d)  # the query right before the POST: as it came
    hostile.rewrite(USER_PATH, lambda d: {**d, "user_id": "wxu_other", "contract_state": "TERMINATED"})
    result = run(*TERMINATE)
    assert result.exit_code == 5, result.stderr
    assert len(posts(sandbox)) == 1  # sent once; never again
    assert "wxu_other" in result.stderr and "check" in result.stderr, result.stderr
    assert outcomes(run)[-3:] == ["attempted", "succeeded", "unknown"]  # the 204 was WeChat's; then doubt


def test_a_re_query_about_another_pupil_after_an_uncertain_answer_is_exit_5_too(hostile, sandbox, run):
    """The POST got no clear answer (500: maybe done); the re-query then answers for another pupil."""
    sandbox.inject("status", status=500, code="SYSTEM_ERROR", message="busy", path_contains="terminate-contract")
    hostile.rewrite(USER_PATH, lambda d: d)
    hostile.rewrite(USER_PATH, lambda d: d)
    hostile.rewrite(USER_PATH, lambda d: {**d, "user_id": "wxu_other"})
    result = run(*TERMINATE)
    assert result.exit_code == 5, result.stderr
    assert len(posts(sandbox)) == 1 and "wxu_other" in result.stderr and "named" in result.stderr
    assert outcomes(run)[-1] == "unknown"


def test_a_null_field_of_another_endpoint_does_not_make_an_answer_anothers(hostile, run):
    hostile.rewrite(USER_PATH, lambda d: {**d, "openid": None})
    assert run("user", "show", "--user", "demo", "--org", "demo-org", "--json").exit_code == 0
