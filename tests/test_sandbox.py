"""The sandbox checks requests like the real server: anything signed differently
from what was sent, stale, replayed or from the wrong merchant is a 401 SIGN_ERROR."""

from __future__ import annotations

import time

import httpx
import pytest

from wxpay_cli.sandbox.server import Sandbox
from wxpay_cli.wire.signing import Signer, VerificationKey, Verifier

BODY = b'{"out_user_id":"demo","organization_id":"demo-org"}'
PATH = "/v3/offlineface/repayment-url"


@pytest.fixture
def signer(sandbox):
    return Signer(sandbox.keys.mchid, sandbox.keys.serial_no, sandbox.keys.merchant_key)


def send(sandbox, method, target, body, authorization, **headers):
    headers = {"Authorization": authorization, "User-Agent": "test", "Accept": "application/json", **headers}
    if body:
        headers["Content-Type"] = "application/json"
    return httpx.request(method, sandbox.url + target, content=body, headers=headers)


def sign_error(response) -> str:
    assert response.status_code == 401, response.text
    payload = response.json()
    assert payload["code"] == "SIGN_ERROR"
    return payload["detail"]["issue"]


def test_correct_request_is_answered_and_signed(sandbox, signer):
    response = send(sandbox, "POST", PATH, BODY, signer.authorization("POST", PATH, BODY))
    assert response.status_code == 200
    verifier = Verifier([VerificationKey(sandbox.keys.public_key_id, sandbox.keys.wechat_key.public_key(), "public_key")])
    verifier.verify(response.headers, response.content)


def test_tampered_body(sandbox, signer):
    auth = signer.authorization("POST", PATH, BODY)
    tampered = BODY.replace(b"demo", b"demo-2", 1)
    assert "signature does not match" in sign_error(send(sandbox, "POST", PATH, tampered, auth))


def test_query_left_out_of_signature(sandbox, signer):
    org, user = "demo-org", "demo"
    path = f"/v3/offlinefacemch/organizations/{org}/users/out-user-id/{user}"
    auth = signer.authorization("GET", path, b"")
    response = send(sandbox, "GET", path + "?extra=1", b"", auth)
    detail = response.json()["detail"]
    assert "signature does not match" in sign_error(response)
    assert detail["sign_message"].startswith("GET\n" + path + "?extra=1\n")  # it echoes what it checked


def test_stale_timestamp(sandbox, signer):
    auth = signer.authorization("POST", PATH, BODY, timestamp=int(time.time()) - 400)
    assert "away from the server clock" in sign_error(send(sandbox, "POST", PATH, BODY, auth))


def test_replayed_nonce(sandbox, signer):
    auth = signer.authorization("POST", PATH, BODY)
    assert send(sandbox, "POST", PATH, BODY, auth).status_code == 200
    assert "already used" in sign_error(send(sandbox, "POST", PATH, BODY, auth))


def test_wrong_mchid_and_serial(sandbox):
    other = Signer("1234567890", sandbox.keys.serial_no, sandbox.keys.merchant_key)
    assert "mchid 1234567890" in sign_error(send(sandbox, "POST", PATH, BODY, other.authorization("POST", PATH, BODY)))
    wrong = Signer(sandbox.keys.mchid, "ABCDEF", sandbox.keys.merchant_key)
    assert "serial_no ABCDEF" in sign_error(send(sandbox, "POST", PATH, BODY, wrong.authorization("POST", PATH, BODY)))


def test_wrong_key(sandbox):
    other = Signer(sandbox.keys.mchid, sandbox.keys.serial_no, sandbox.keys.platform_key)
    assert "signature does not match" in sign_error(
        send(sandbox, "POST", PATH, BODY, other.authorization("POST", PATH, BODY)))


def test_missing_authorization_and_user_agent(sandbox, signer):
    assert "missing Authorization" in sign_error(send(sandbox, "POST", PATH, BODY, ""))
    response = httpx.post(sandbox.url + PATH, content=BODY,
                          headers={"Authorization": signer.authorization("POST", PATH, BODY), "User-Agent": ""})
    assert response.status_code == 400


def test_unknown_wechatpay_serial_header(sandbox, signer):
    response = send(sandbox, "POST", PATH, BODY, signer.authorization("POST", PATH, BODY), **{"Wechatpay-Serial": "NOPE"})
    assert response.status_code == 400 and response.json()["code"] == "PARAM_ERROR"


def test_received_log_records_verdicts(sandbox, signer):
    send(sandbox, "POST", PATH, BODY, signer.authorization("POST", PATH, BODY))
    send(sandbox, "POST", PATH, b"{}", signer.authorization("POST", PATH, BODY))
    ok, bad = sandbox.received
    assert ok.signature_ok and ok.status == 200
    assert not bad.signature_ok and bad.status == 401 and "signature" in bad.sign_error


@pytest.mark.parametrize("skew, accepted", [(300, True), (-300, True), (301, False), (-301, False)])
def test_timestamp_window_is_300_seconds_either_way(sandbox, signer, skew, accepted):
    now = 1764000000
    sandbox.state.clock = lambda: float(now + skew)
    header = signer.authorization("POST", PATH, BODY, timestamp=now)
    response = send(sandbox, "POST", PATH, BODY, header)
    if accepted:
        assert response.status_code == 200, response.text
    else:
        assert "301 s away" in sign_error(response)


def test_it_keeps_only_its_latest_requests(sandbox_keys, signer):
    """`received` is a history of the last `history` requests, not of every request ever served."""
    with Sandbox(sandbox_keys, history=3) as box:
        targets = [f"/v3/offlinefacemch/organizations/demo-org/users/out-user-id/pupil-{n}" for n in range(7)]
        for target in targets:
            send(box, "GET", target, b"", signer.authorization("GET", target, b""))
        assert [record.target for record in box.received] == targets[-3:]
        assert all(record.status == 404 and record.signature_ok for record in box.received)


@pytest.mark.parametrize("sent_at", [0, -300, 300], ids=["now", "300s-old", "300s-ahead"])
def test_a_nonce_is_refused_again_for_as_long_as_its_timestamp_is_accepted_and_then_forgotten(sandbox, signer,
                                                                                              sent_at):
    now = 1764000000
    sandbox.state.clock = lambda: float(now)
    header = signer.authorization("POST", PATH, BODY, timestamp=now + sent_at)
    assert send(sandbox, "POST", PATH, BODY, header).status_code == 200
    last_accepted = now + sent_at + 300  # the last second at which this timestamp is in the window
    sandbox.state.clock = lambda: float(last_accepted)
    assert "already used" in sign_error(send(sandbox, "POST", PATH, BODY, header))
    sandbox.state.clock = lambda: float(last_accepted + 1)
    assert "away from the server clock" in sign_error(send(sandbox, "POST", PATH, BODY, header))
    fresh = signer.authorization("POST", PATH, BODY, timestamp=last_accepted + 1)
    assert send(sandbox, "POST", PATH, BODY, fresh).status_code == 200
    assert len(sandbox.state.nonces) == 1  # the old nonce is gone: only the fresh one is held


def test_nonces_are_held_only_while_their_requests_could_be_replayed(sandbox_keys, signer):
    now = 1764000000
    target = "/v3/offlinefacemch/organizations/demo-org/users/out-user-id/nobody"
    with Sandbox(sandbox_keys, history=10) as box, httpx.Client(base_url=box.url) as client:
        for second in range(0, 1800, 10):  # 180 requests over 30 minutes, one every 10 s
            box.state.clock = lambda second=second: float(now + second)
            header = signer.authorization("GET", target, b"", timestamp=now + second)
            assert client.get(target, headers={"Authorization": header, "User-Agent": "test"}).status_code == 404
            assert len(box.state.nonces) <= 300 // 10 + 1  # those of the last 300 s
        assert len(box.received) == 10
