"""Verifying WeChat's answers, each edge pinned so a one-line change to it fails a test: the
signed message, the 300 s window exactly, probes, empty or odd-shaped headers, keys picked by
serial, and a client without a verifier. (Replays: test_binding_and_replay.py.)

Signatures are made with `hostile.sign` (written by hand, not `wxpay_cli.wire.signing`), except
in the Verifier section, which signs with `rsa_sign`: one checked against the other."""

from __future__ import annotations

import time

import httpx
import pytest
from common import no_traceback, refused
from hostile import (
    BODY,
    KEY_ID,
    LINK_PATH,
    NOW,
    USER_PATH,
    Hostile,
    answer_headers,
    sign,
    verifier_at,
)

from wxpay_cli.errors import ExitStatus, VerificationError
from wxpay_cli.wire import signing
from wxpay_cli.wire.client import Client
from wxpay_cli.wire.signing import (
    Signer,
    VerificationKey,
    Verifier,
    make_nonce,
    response_message,
    rsa_sign,
)


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_exactly_300_seconds_away_is_accepted(sandbox_keys, offset):
    verifier_at(sandbox_keys, NOW + offset).verify(answer_headers(sandbox_keys), BODY)


@pytest.mark.parametrize("offset", [301, -301, 100000])
def test_301_seconds_away_is_refused(sandbox_keys, offset):
    with pytest.raises(VerificationError, match="away from the local clock"):
        verifier_at(sandbox_keys, NOW + offset).verify(answer_headers(sandbox_keys), BODY)


def test_a_probe_is_refused_as_a_probe(sandbox_keys):
    probe = answer_headers(sandbox_keys)
    probe["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + probe["Wechatpay-Signature"]
    with pytest.raises(VerificationError, match="probe"):
        verifier_at(sandbox_keys, NOW).verify(probe, BODY)


def test_a_probe_is_refused_even_when_its_signature_is_valid(sandbox_keys, monkeypatch):
    """No RSA signature can start with the probe's prefix, so the check is seen working by
    making every signature valid: the probe must still be refused, by its prefix alone."""
    monkeypatch.setattr(signing, "rsa_verify", lambda key, message, signature: True)
    probe = answer_headers(sandbox_keys)
    probe["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + probe["Wechatpay-Signature"]
    with pytest.raises(VerificationError, match="probe"):
        verifier_at(sandbox_keys, NOW).verify(probe, BODY)
    verifier_at(sandbox_keys, NOW).verify(answer_headers(sandbox_keys), BODY)  # the patch itself lets answers through


@pytest.mark.parametrize("name", ["Wechatpay-Nonce", "Wechatpay-Serial", "Wechatpay-Timestamp", "Wechatpay-Signature"])
def test_an_empty_header_is_missing(sandbox_keys, name):
    # a valid signature over an empty nonce: taking "" as present would accept it
    answer = answer_headers(sandbox_keys, nonce="" if name == "Wechatpay-Nonce" else "n" * 32)
    answer[name] = ""
    with pytest.raises(VerificationError, match=f"missing header {name}"):
        verifier_at(sandbox_keys, NOW).verify(answer, BODY)


@pytest.mark.parametrize("timestamp", ["\u0661\u0667\u0666\u0664" + "\u0660" * 6, "\uff11\uff17\uff16\uff14" + "\uff10" * 6],
                         ids=["Arabic-Indic digits", "full-width digits"])
def test_a_timestamp_in_other_digits_is_not_a_unix_time(sandbox_keys, timestamp):
    """int() reads these digits as NOW; WeChat writes ASCII ones. (A header sent as UTF-8
    arrives decoded: httpx falls back to UTF-8.) Signed over these very characters, it is still
    refused."""
    assert int(timestamp) == NOW
    answer = answer_headers(sandbox_keys, timestamp=timestamp)
    with pytest.raises(VerificationError, match="Wechatpay-Timestamp is not a unix time"):
        verifier_at(sandbox_keys, NOW).verify(answer, BODY)


def test_a_signature_with_junk_between_base64_characters_is_refused(sandbox_keys):
    answer = answer_headers(sandbox_keys)
    signature = answer["Wechatpay-Signature"]
    answer["Wechatpay-Signature"] = signature[:10] + "!*" + signature[10:]  # a lenient decoder skips these
    with pytest.raises(VerificationError, match="bad signature"):
        verifier_at(sandbox_keys, NOW).verify(answer, BODY)


def test_the_message_is_timestamp_nonce_body_each_with_its_newline(sandbox_keys):
    verifier = verifier_at(sandbox_keys, NOW)
    verifier.verify(answer_headers(sandbox_keys, nonce="a" * 32), BODY)
    swapped = answer_headers(sandbox_keys, nonce="b" * 32)
    swapped["Wechatpay-Signature"] = sign(sandbox_keys.wechat_key, "b" * 32, str(NOW), BODY)
    with pytest.raises(VerificationError, match="bad signature"):
        verifier.verify(swapped, BODY)
    assert signing.response_message(str(NOW), "abc", BODY) == f"{NOW}\nabc\n".encode() + BODY + b"\n"
    assert signing.response_message(str(NOW), "abc", b"") == f"{NOW}\nabc\n\n".encode()


def test_a_client_without_a_verifier_refuses_every_answer(sandbox_keys):
    answer = answer_headers(sandbox_keys)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, headers=answer, content=BODY))
    signer = Signer("1900000001", sandbox_keys.serial_no, sandbox_keys.merchant_key)
    with Client(base_url="https://api.mch.weixin.qq.com", signer=signer, verifier=None, transport=transport) as client:
        with pytest.raises(VerificationError) as caught:
            client.request("GET", "/v3/offlineface/contracts/ct_1")
    assert caught.value.exit_status == ExitStatus.VERIFICATION


# -- the Verifier, signed with wxpay's own rsa_sign -----------------------------------


def signed_headers(key, body: bytes, *, timestamp: int | None = None, serial: str = KEY_ID) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = make_nonce()
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sign(key, response_message(str(timestamp), nonce, body)),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        "Request-ID": "REQ-1",
    }


@pytest.fixture
def verifier(sandbox_keys):
    return Verifier([VerificationKey(KEY_ID, sandbox_keys.wechat_key.public_key(), "public_key")])


def test_valid_response_passes(verifier, sandbox_keys):
    body = b'{"a":1}'
    verifier.verify(signed_headers(sandbox_keys.wechat_key, body), body)
    verifier.verify(signed_headers(sandbox_keys.wechat_key, b""), b"")  # a 204


def _tamper(kind, key, other_key):
    body = b'{"repayment_url":"https://x"}'
    headers = signed_headers(key, body)
    if kind.startswith("missing "):
        del headers[kind.removeprefix("missing ")]
    elif kind == "unknown serial":
        headers["Wechatpay-Serial"] = "PUB_KEY_ID_0114999999999999999999999999"
    elif kind == "old timestamp":
        headers = signed_headers(key, body, timestamp=int(time.time()) - 301)
    elif kind == "future timestamp":
        headers = signed_headers(key, body, timestamp=int(time.time()) + 400)
    elif kind == "signtest probe":
        headers["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/" + headers["Wechatpay-Signature"]
    elif kind == "wrong key":
        headers = signed_headers(other_key, body)
    elif kind == "tampered body":
        body = b'{"repayment_url":"https://evil"}'
    elif kind == "garbage signature":
        headers["Wechatpay-Signature"] = "not base64!"
    elif kind == "other signature type":
        headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SM2-WITH-SM3"
    return headers, body


@pytest.mark.parametrize("kind", [
    "missing Wechatpay-Timestamp", "missing Wechatpay-Nonce", "missing Wechatpay-Signature",
    "missing Wechatpay-Serial", "unknown serial", "old timestamp", "future timestamp", "signtest probe",
    "wrong key", "tampered body", "garbage signature", "other signature type",
])
def test_each_verification_failure(kind, verifier, sandbox_keys):
    headers, body = _tamper(kind, sandbox_keys.wechat_key, sandbox_keys.merchant_key)
    with pytest.raises(VerificationError) as caught:
        verifier.verify(headers, body)
    assert caught.value.exit_status == ExitStatus.VERIFICATION
    assert caught.value.request_id == "REQ-1"


def test_timestamp_window_is_300_seconds(verifier, sandbox_keys):
    now = time.time()
    v = Verifier(list(verifier.keys.values()), clock=lambda: now)
    body = b"{}"
    v.verify(signed_headers(sandbox_keys.wechat_key, body, timestamp=int(now) - 299), body)
    with pytest.raises(VerificationError, match="away from the local clock"):
        v.verify(signed_headers(sandbox_keys.wechat_key, body, timestamp=int(now) - 302), body)


def test_keys_are_picked_by_serial(sandbox_keys):
    both = Verifier([
        VerificationKey(KEY_ID, sandbox_keys.wechat_key.public_key(), "public_key"),
        VerificationKey("ABCDEF", sandbox_keys.platform_key.public_key(), "platform_cert", 2e9),
    ])
    body = b"{}"
    both.verify(signed_headers(sandbox_keys.wechat_key, body), body)
    both.verify(signed_headers(sandbox_keys.platform_key, body, serial="ABCDEF"), body)
    with pytest.raises(VerificationError, match="bad signature"):
        both.verify(signed_headers(sandbox_keys.wechat_key, body, serial="ABCDEF"), body)
    assert both.serial == KEY_ID  # the public key id is announced first


def test_newest_certificate_is_announced(sandbox_keys):
    v = Verifier([
        VerificationKey("OLD", sandbox_keys.platform_key.public_key(), "platform_cert", 1e9),
        VerificationKey("NEW", sandbox_keys.platform_key.public_key(), "platform_cert", 2e9),
    ])
    assert v.serial == "NEW"


# -- end to end, against a hostile server ---------------------------------------------


@pytest.mark.parametrize("timestamp", ["9" * 400, "1" * 5000, "-1", " 1764000000", "1_764_000_000", "1764000000.5", "0x10", "1e9"])
def test_a_timestamp_of_any_shape_is_a_verification_failure(hostile, run, timestamp):
    hostile.signed(USER_PATH, b'{"user_id": "u"}', Wechatpay_Timestamp=timestamp)
    refused(run("user", "show", "--user", "demo", "--org", "demo-org"), ExitStatus.VERIFICATION, "Wechatpay-Timestamp")


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"42", b"null"])
def test_a_verified_answer_that_is_not_an_object_is_refused(hostile, run, body):
    hostile.signed(USER_PATH, body)
    refused(run("user", "show", "--user", "demo", "--org", "demo-org"), ExitStatus.VERIFICATION, "JSON object")


def test_a_huge_serial_with_a_bad_signature_is_one_short_line(cert_sandbox, configure, run):
    """A platform serial is compared by value: 20 000 leading zeros still name the key; the
    refusal names the key as wxpay knows it, not the header's 20 KB."""
    configure(cert_sandbox)
    hostile = Hostile(cert_sandbox)
    serial = "0" * 20_000 + hostile.serial
    hostile.signed(LINK_PATH, b'{"a":"b"}', Wechatpay_Serial=serial, Wechatpay_Signature="QUFBQQ==")
    result = run("repayment-url", "--user", "demo", "--org", "demo-org")
    no_traceback(result)
    assert result.exit_code == ExitStatus.VERIFICATION, result.stderr
    assert "bad signature" in result.stderr and len(result.stderr) < 1000, len(result.stderr)
