"""The protocol primitives: published vectors, an independent check of our signatures,
and every way a response can fail verification."""

from __future__ import annotations

import base64
import re
import time

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from wxpay_cli.errors import ExitStatus, VerificationError
from wxpay_cli.wire.signing import (
    Signer,
    VerificationKey,
    Verifier,
    aead_decrypt,
    make_nonce,
    oaep_decrypt,
    oaep_encrypt,
    parse_authorization,
    redact_authorization,
    response_message,
    rsa_sign,
)


def test_aead_published_vector():
    # From the official Java SDK's test suite (apiv3-protocol.md).
    plain = aead_decrypt(b"a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", "uluk4a9R25RW", "associatedData",
                         "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=")
    assert plain == b"message"


def test_aead_wrong_key_is_a_clear_error():
    with pytest.raises(ValueError, match="wrong APIv3 key"):
        aead_decrypt(b"b" * 32, "uluk4a9R25RW", "associatedData", "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=")


def test_nonce_is_32_alphanumerics_and_random():
    nonces = {make_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert all(re.fullmatch(r"[0-9A-Za-z]{32}", n) for n in nonces)


def test_authorization_header_verifies_independently(sandbox_keys):
    signer = Signer("1900000001", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", sandbox_keys.merchant_key)
    body = '{"out_user_id":"张三","organization_id":"o1"}'.encode()
    header = signer.authorization("post", "/v3/offlineface/repayment-url?x=1%202", body, timestamp=1764000000,
                                  nonce="A" * 32)
    assert header.startswith("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",")
    fields = parse_authorization(header)
    assert fields["nonce_str"] == "A" * 32 and fields["timestamp"] == "1764000000"
    assert fields["serial_no"] == "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    # Build the message by hand, as the server does, and verify with cryptography directly.
    message = ("POST\n/v3/offlineface/repayment-url?x=1%202\n1764000000\n" + "A" * 32 + "\n").encode() + body + b"\n"
    sandbox_keys.merchant_key.public_key().verify(
        base64.b64decode(fields["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
    )


def test_empty_body_is_signed_as_empty_line(sandbox_keys):
    signer = Signer("1", "AB", sandbox_keys.merchant_key)
    fields = parse_authorization(signer.authorization("GET", "/v3/certificates", b"", timestamp=1, nonce="n"))
    sandbox_keys.merchant_key.public_key().verify(
        base64.b64decode(fields["signature"]), b"GET\n/v3/certificates\n1\nn\n\n", padding.PKCS1v15(), hashes.SHA256()
    )


def test_redaction_keeps_no_full_signature(sandbox_keys):
    header = Signer("1", "AB", sandbox_keys.merchant_key).authorization("GET", "/x", b"")
    signature = parse_authorization(header)["signature"]
    redacted = redact_authorization(header)
    assert signature not in redacted
    assert signature[:8] in redacted and "redacted" in redacted
    assert 'mchid="1"' in redacted


# -- the Verifier --------------------------------------------------------------

KEY_ID = "PUB_KEY_ID_0114232134912410000000000000"


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


def test_oaep_round_trip(sandbox_keys):
    secret = oaep_encrypt(sandbox_keys.merchant_key.public_key(), "张小明")
    assert secret != "张小明"
    assert oaep_decrypt(sandbox_keys.merchant_key, secret) == "张小明"
    with pytest.raises(ValueError):
        oaep_decrypt(sandbox_keys.merchant_key, "张小明")
