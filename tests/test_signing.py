"""The protocol primitives: published vectors, an independent check of our signatures,
redaction, and OAEP (verifying WeChat's answers: test_verification.py)."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from wxpay_cli.wire.signing import (
    Signer,
    aead_decrypt,
    make_nonce,
    oaep_decrypt,
    oaep_encrypt,
    parse_authorization,
    redact_authorization,
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


def test_oaep_round_trip(sandbox_keys):
    secret = oaep_encrypt(sandbox_keys.merchant_key.public_key(), "张小明")
    assert secret != "张小明"
    assert oaep_decrypt(sandbox_keys.merchant_key, secret) == "张小明"
    with pytest.raises(ValueError):
        oaep_decrypt(sandbox_keys.merchant_key, "张小明")
