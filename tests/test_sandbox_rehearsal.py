"""The sandbox as a place to rehearse the real day: organizations, a roster
large enough for a batch, your own pupils from a CSV file."""

from __future__ import annotations

import json

import pytest

from wxpay_cli.sandbox.roster import RosterError, load_csv


def test_readme_organization_query_works_on_the_sandbox(sandbox, configure, run):
    configure(sandbox)
    result = run("request", "GET", "/v3/offlinefacemch/organizations?organization_id=1234567", expect=0)
    assert result.json == {"organization_id": "1234567", "organization_name": "南山中兴小学部"}
    [request] = sandbox.received
    assert request.signature_ok and request.target == "/v3/offlinefacemch/organizations?organization_id=1234567"


def test_organization_query_by_name_and_unknown(sandbox, configure, run):
    configure(sandbox)
    result = run("request", "GET", "/v3/offlinefacemch/organizations?organization_name=%E6%BC%94%E7%A4%BA%E5%AE%9E%E9%AA%8C%E5%B0%8F%E5%AD%A6", expect=0)
    assert result.json == {"organization_id": "demo-org", "organization_name": "演示实验小学"}
    assert run("request", "GET", "/v3/offlinefacemch/organizations?organization_id=nope").exit_code == 1
    assert run("request", "GET", "/v3/offlinefacemch/organizations").exit_code == 1
    assert [r.status for r in sandbox.received] == [200, 404, 400]


def test_demo_roster_is_large_mixed_and_keeps_the_readme_pupils(sandbox):
    users = sandbox.state.users
    assert {("demo-org", "demo"), ("demo-org", "demo-2"), ("demo-org", "demo-terminated")} <= set(users)
    demo_org = [u for u in users.values() if u.organization_id == "demo-org"]
    other = [u for u in users.values() if u.organization_id == "1234567"]
    assert len(demo_org) >= 300 and len(other) >= 50
    assert {u.contract_state for u in demo_org} == {"CONTRACTED", "NOT_CONTRACTED", "TERMINATED"}
    assert all("年级" in u.class_name and len(u.user_name) >= 2 for u in demo_org if u.out_user_id.isdigit())
    assert all(u.contract_terminated_time for u in users.values() if u.contract_state == "TERMINATED")
    assert users[("1234567", "20240117")]


def test_terminated_demo_contract_has_a_termination_time(sandbox, configure, run):
    configure(sandbox)
    user = sandbox.state.users[("demo-org", "demo-terminated")]
    data = run("contract", "show", user.contract_id, "--json").json
    assert data["contract_state"] == "TERMINATED" and data["contract_terminated_time"]


def test_pupils_csv(sandbox, tmp_path):
    roster = tmp_path / "pupils.csv"
    roster.write_text("\ufeffout_user_id,organization_id,name,class,contract_state\n"
                      "s1,school-9,赵一,一年级一班,CONTRACTED\ns2,school-9,钱二,,not_contracted\n", encoding="utf-8")
    assert load_csv(sandbox, roster) == 2
    assert sandbox.state.users[("school-9", "s2")].contract_state == "NOT_CONTRACTED"
    assert sandbox.state.users[("school-9", "s1")].class_name == "一年级一班"
    assert "school-9" in sandbox.state.organizations


@pytest.mark.parametrize("text", ["学号,学校\n1,2\n", "out_user_id,organization_id,contract_state\nx,y,SIGNED\n",
                                  "out_user_id,organization_id\n,y\n"])
def test_pupils_csv_refused_with_a_reason(sandbox, tmp_path, text):
    roster = tmp_path / "pupils.csv"
    roster.write_text(text, encoding="utf-8")
    with pytest.raises(RosterError, match="pupils.csv"):
        load_csv(sandbox, roster)


# -- HTTP as WeChat does it ------------------------------------------------------

def signed_call(sandbox, method, path, body=b""):
    import httpx

    from wxpay_cli.wire.signing import Signer

    signer = Signer(sandbox.keys.mchid, sandbox.keys.serial_no, sandbox.keys.merchant_key)
    headers = {"Authorization": signer.authorization(method, path, body), "User-Agent": "t"}
    if body:
        headers["Content-Type"] = "application/json"
    return httpx.request(method, sandbox.url + path, content=body, headers=headers)


def test_a_204_has_no_content_length_and_no_body(sandbox):
    user = sandbox.state.users[("demo-org", "demo")]
    answer = signed_call(sandbox, "POST", f"/v3/offlinefacemch/organizations/demo-org/users/user-id/{user.user_id}/terminate-contract")
    assert answer.status_code == 204 and answer.content == b""
    assert "content-length" not in answer.headers
    assert answer.headers["Wechatpay-Signature"]


def test_answers_are_compact_json(sandbox):
    answer = signed_call(sandbox, "GET", "/v3/offlinefacemch/organizations?organization_id=demo-org")
    assert answer.content == '{"organization_id":"demo-org","organization_name":"演示实验小学"}'.encode()


# -- rehearsals stay out of the real audit log -------------------------------------

def test_profile_names_its_own_audit_log(sandbox, configure, run, tmp_path):
    from wxpay_cli.local.audit import default_path

    configure(sandbox, audit_log="rehearsal/audit.jsonl")  # relative: next to the config file
    assert run("repayment-url", "--user", "demo", "--org", "demo-org").exit_code == 0
    own = tmp_path / "rehearsal" / "audit.jsonl"
    assert [json.loads(line)["out_user_id"] for line in own.read_text().splitlines()] == ["demo"]
    assert not default_path().exists()
    result = run("audit", "--json", expect=0)
    assert [json.loads(line)["out_user_id"] for line in result.stdout.splitlines()] == ["demo"]
    shown = run("config", "show", "--json").json
    assert shown["audit_log"] == {"value": str(own), "source": "file"}


@pytest.fixture
def quick_keys(monkeypatch, sandbox_keys):
    """--sandbox makes fresh keys; the session's (zero-led serials) spare the RSA generation."""
    from wxpay_cli.sandbox.keys import SandboxKeys

    monkeypatch.setattr(SandboxKeys, "generate", classmethod(lambda cls, *a, **k: sandbox_keys))


def test_sandbox_flag_writes_to_a_throwaway_log(run, quick_keys):
    from wxpay_cli.local.audit import default_path

    run("--sandbox", "repayment-url", "--user", "demo", "--org", "demo-org", expect=0)
    assert not default_path().exists()
    assert run("audit", "--json").stdout == ""  # no config: the default log, still empty


def test_sandbox_flag_can_download_certificates(run, tmp_path, quick_keys, sandbox_keys):
    result = run("--sandbox", "certs", "download", "--output", str(tmp_path / "c"), "--json", expect=0)
    [cert] = result.json["certificates"]
    assert cert["serial_no"] == sandbox_keys.platform_serial
    assert (tmp_path / "c" / f"wechatpay_{sandbox_keys.platform_serial}.pem").is_file()


# -- the life of a case: re-signing, and a termination never answered ----------------

@pytest.fixture
def sandbox_clock(sandbox):
    """The sandbox's clock, stopped now; `advance(seconds)` moves it on (no test sleeps)."""
    import time

    moment = [float(int(time.time()))]
    sandbox.state.clock = lambda: moment[0]

    def advance(seconds: float) -> None:
        moment[0] += seconds

    return advance


def shown(run, user: str, org: str = "demo-org") -> dict:
    return run("user", "show", "--user", user, "--org", org, "--json", expect=0).json


def test_a_terminated_pupil_signs_again_under_a_new_contract_after_resign_after(sandbox, sandbox_clock, configure,
                                                                              run):
    from common import terminations

    configure(sandbox)
    sandbox.state.resign_after = 60
    old = shown(run, "demo")["contract_id"]
    run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json", expect=0)
    sandbox_clock(59)
    assert shown(run, "demo")["contract_state"] == "TERMINATED"  # not yet
    sandbox_clock(1)
    now = shown(run, "demo")
    assert now["contract_state"] == "CONTRACTED" and now["contract_id"] not in (old, "")
    # Both contracts answer the contract query: the old one stays terminated.
    before = run("contract", "show", old, "--json", expect=0).json
    assert before["contract_state"] == "TERMINATED" and before["contract_terminated_time"]
    after = run("contract", "show", now["contract_id"], "--json", expect=0).json
    assert after["contract_state"] == "CONTRACTED" and "contract_terminated_time" not in after
    assert after["user_id"] == before["user_id"]  # the same pupil, signed again
    assert after["contract_signed_time"] > before["contract_terminated_time"]
    # The new contract can be terminated in turn, and the next one is new again.
    run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json", expect=0)
    sandbox_clock(60)
    third = shown(run, "demo")["contract_id"]
    assert third not in (old, now["contract_id"])
    assert len(terminations(sandbox)) == 2


def test_without_resign_after_or_for_a_roster_termination_nobody_signs_again(sandbox, configure, run):
    configure(sandbox)
    run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json", expect=0)
    sandbox.state.users[("demo-org", "demo")].terminated_at -= 30 * 86400  # a month ago (the clock cannot move so far)
    assert shown(run, "demo")["contract_state"] == "TERMINATED"  # the default: never
    sandbox.state.resign_after = 1
    assert shown(run, "demo-terminated")["contract_state"] == "TERMINATED"  # terminated in the roster, not by a request
    assert shown(run, "demo")["contract_state"] == "CONTRACTED"


def marked_roster(sandbox, tmp_path) -> None:
    roster = tmp_path / "pupils.csv"
    roster.write_text("out_user_id,organization_id,name,class,contract_state,termination\n"
                      "m1,school-9,赵一,一年级一班,,unanswered\nn1,school-9,钱二,一年级一班,,\n", encoding="utf-8")
    assert load_csv(sandbox, roster) == 2


def test_an_unanswered_termination_ends_unknown_and_takes_effect_later(sandbox, sandbox_clock, configure, run,
                                                                       tmp_path):
    from common import outcomes, terminations

    marked_roster(sandbox, tmp_path)
    configure(sandbox)
    result = run("contract", "terminate", "--user", "m1", "--org", "school-9", "--yes", expect=4)
    assert "still CONTRACTED when re-queried" in result.stderr and "Traceback" not in result.stderr
    [post] = terminations(sandbox)
    assert post.signature_ok and post.status == 0  # received, verified, never answered
    assert [r.method for r in sandbox.received] == ["GET", "GET", "POST", "GET"]
    assert outcomes() == ["attempted", "unknown"]
    sandbox_clock(2)
    assert shown(run, "m1", "school-9")["contract_state"] == "CONTRACTED"
    sandbox_clock(1)  # the default delay: 3 s
    later = shown(run, "m1", "school-9")
    assert later["contract_state"] == "TERMINATED"
    assert run("contract", "show", later["contract_id"], "--json", expect=0).json["contract_terminated_time"]
    # The next run settles the open attempt with what WeChat now says, and sends nothing.
    again = run("contract", "terminate", "--user", "m1", "--org", "school-9", "--yes", "--json", expect=0)
    assert again.json["outcome"] == "ALREADY_TERMINATED" and "did happen" in again.stderr
    assert len(terminations(sandbox)) == 1
    # A pupil without the mark is answered as usual.
    run("contract", "terminate", "--user", "n1", "--org", "school-9", "--yes", expect=0)


def test_an_unanswered_termination_with_no_delay_is_confirmed_by_the_requery(sandbox, configure, run, tmp_path):
    from common import outcomes

    marked_roster(sandbox, tmp_path)
    sandbox.state.unanswered_delay = 0
    configure(sandbox)
    result = run("contract", "terminate", "--user", "m1", "--org", "school-9", "--yes", "--json", expect=0)
    assert result.json["outcome"] == "TERMINATED" and "confirmed by re-query" in result.json["note"]
    assert outcomes() == ["attempted", "succeeded"]


def test_the_demo_roster_has_a_pupil_whose_termination_is_never_answered(sandbox, configure, run):
    from common import terminations

    configure(sandbox)
    run("contract", "terminate", "--user", "demo-unanswered", "--org", "demo-org", "--yes", expect=4)
    assert [r.status for r in terminations(sandbox)] == [0]


@pytest.mark.parametrize("value", ["never", "no-answer", "1"])
def test_an_unknown_termination_mark_is_refused_naming_its_line(sandbox, tmp_path, value):
    roster = tmp_path / "pupils.csv"
    roster.write_text("out_user_id,organization_id,termination\nok,school-9,\n"
                      f"bad,school-9,{value}\n", encoding="utf-8")
    with pytest.raises(RosterError, match=r"pupils\.csv, line 3: termination must be empty or unanswered"):
        load_csv(sandbox, roster)


@pytest.mark.parametrize("args", [
    ("--resign-after", "0"), ("--resign-after", "-1"), ("--resign-after", "nan"), ("--resign-after", "inf"),
    ("--resign-after", "2592001"), ("--resign-after", "soon"),
    ("--unanswered-delay", "-1"), ("--unanswered-delay", "61"), ("--unanswered-delay", "nan"),
])
def test_bad_rehearsal_option_values_exit_2(run, args):
    from common import no_traceback

    result = run("sandbox", "serve", *args, expect=2)
    no_traceback(result)
    assert f"Invalid value for '{args[0]}'" in result.stderr and result.stdout == ""


def test_a_bad_termination_mark_stops_serve_naming_its_line(run, tmp_path, quick_keys):
    roster = tmp_path / "pupils.csv"
    roster.write_text("out_user_id,organization_id,termination\nbad,school-9,later\n", encoding="utf-8")
    result = run("sandbox", "serve", "--quiet", "--pupils", str(roster), expect=2)
    assert "line 2" in result.stderr and "unanswered" in result.stderr and result.stdout == ""
