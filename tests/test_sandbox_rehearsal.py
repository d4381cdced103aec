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
