"""Known-answer vectors that pin BOTH sides of the wire, each on its own.

The client (`wxpay_cli.wire.signing`) and the sandbox (`wxpay_cli.sandbox.protocol`)
are written separately; a mistake shared by both would pass every end-to-end
test, so each side is held here to bytes and signatures written out by hand.
The key in tests/data/kat_rsa_2048.pem is a test-only key made for these vectors
(it signs nothing real). The signatures below were computed once with it;
PKCS#1 v1.5 is deterministic, so any change to a message changes them.
Vectors from outside the project (the official SDKs' own test suites) are in
tests/test_official_vectors.py.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from wxpay_cli.sandbox import protocol
from wxpay_cli.wire import signing
from wxpay_cli.wire.signing import Signer, VerificationKey, Verifier

KEY = serialization.load_pem_private_key((Path(__file__).parent / "data" / "kat_rsa_2048.pem").read_bytes(), None)

TIMESTAMP = "1764000000"
REQUEST_NONCE = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
REQUEST_BODY = b'{"out_user_id":"demo","organization_id":"demo-org"}'
REQUEST_MESSAGE = (
    b"POST\n"
    b"/v3/offlineface/repayment-url\n"
    b"1764000000\n"
    b"5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"
    b'{"out_user_id":"demo","organization_id":"demo-org"}\n'
)
REQUEST_SIGNATURE = (
    "KFjT4dQNiZbVPwd9qyJOmPI4pzsD5FKB6RhQ1V3jRYU/3+/IGxdt+1c0OAqIe7p+ok5T+pHp3bGUEeX2+L/74n6YHcU4qQlO/kr0eFXnB13K"
    "XbYw5uLeTrx9C6nn1yGyWMQ4my+C5x9geJIdxW00DfD1ER6txSqSzncSTB8GBUOIBD77ZbWCCGEKqDYiMZ9Nqb7FQE5rMT1LgIpAH64f5X41"
    "OMdg5tSFWq3+LGYTY+9vQjrwzlVDaUShvwnApVga/yEU5c+F1JvenhjFfUu/VYzsl0e2O+i1b8sdzWmjO+DpP5j++NPM6V81Zu3uwvn0CYDU"
    "WsUSxIiIqzagAhVn5Q=="
)
ANSWER_NONCE = "fdasfjihihihlkja484w"
ANSWER_BODY = b'{"repayment_url":"https://example.com/r","expire_at":"2026-11-26T12:00:00+08:00"}'
ANSWER_MESSAGE = (
    b"1764000000\n"
    b"fdasfjihihihlkja484w\n"
    b'{"repayment_url":"https://example.com/r","expire_at":"2026-11-26T12:00:00+08:00"}\n'
)
ANSWER_SIGNATURE = (
    "KmzaQUYcxvqEa3jYvY49ETnaeOfYo1kqLtulk5cadr35BRFAEuP1qmKsmYOndwwmpeCi9FUjpDsBSI2JolwlrjTMliEuCP3VLFS9ORQk2pmE"
    "eEgFduexYqKf5knp409xDnbfQ6HiWQfbjLleZyQo6DaUzIcrEoI//w7KTU67inUvjk/NN1nPq16gYE4QfePqhqgNS5ABwA6SiO170FR6fBCJ"
    "JgFR66peUf5Eu1UhPtg+uXunm4u+2KdAUpytws7YTs889BKVQSEP5rz5QP47YLDMEyG75ZlurMQ3g6re+C3Sa2St+jPd9YZ3IYXWOaDLXI9q"
    "NppKqYDJb9yaIQeBmA=="
)
EMPTY_ANSWER_MESSAGE = b"1764000000\nfdasfjihihihlkja484w\n\n"  # a 204: the body line is empty, its \n stays
EMPTY_ANSWER_SIGNATURE = (
    "G/h5PlrJABrGVR/jjxi8FkTfkPOAqRXq40nZ0kyJNBCltOSODZnN5a4JwC58C4TkNKZEfVpEfNvGBuyqZhNWX8L+86oqGZ9lz+gqabFFlZJ+"
    "G4nWS/vBYSK8Uf7TU9TPOJsOnhrip6baEpkS3od1/c6HwDzm6iXcQjiCzzNW9Sv3EzCM3WUjiMRGE8oFmDbVFXC/kKAVTvcr71nKko/PXG6u"
    "xLM5amGCC+8mjrPCG0EaXdocTlzM1WgeG4eFhZkzueBYjKXsOvJzxVbJl7ckuPpIxiCoNAM4GT0ooL2wyzfp0jXLywQBxXxyU48+QDNU5FPn"
    "iCOtcV9CPcrFyb3rlg=="
)
SERIAL = "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"
AUTHORIZATION = (
    'WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",'
    f'timestamp="1764000000",serial_no="{SERIAL}",signature="{REQUEST_SIGNATURE}"'
)
# AES-256-GCM, from the official Java SDK's tests (shared/reference/apiv3-protocol.md).
AEAD = {"key": "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", "nonce": "uluk4a9R25RW", "aad": "associatedData",
        "plaintext": b"message", "ciphertext": "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI="}


# -- the client side ------------------------------------------------------------

def test_client_request_message_and_signature():
    assert signing.request_message("POST", "/v3/offlineface/repayment-url", TIMESTAMP, REQUEST_NONCE, REQUEST_BODY) == REQUEST_MESSAGE
    assert signing.request_message("GET", "/v3/certificates", 1764000000, "N", b"") == b"GET\n/v3/certificates\n1764000000\nN\n\n"
    assert signing.rsa_sign(KEY, REQUEST_MESSAGE) == REQUEST_SIGNATURE


def test_client_authorization_header_is_exact():
    signer = Signer("1900000001", SERIAL[1:].lower(), KEY)
    header = signer.authorization("POST", "/v3/offlineface/repayment-url", REQUEST_BODY,
                                  timestamp=int(TIMESTAMP), nonce=REQUEST_NONCE)
    assert header == AUTHORIZATION


def test_client_response_message():
    assert signing.response_message(TIMESTAMP, ANSWER_NONCE, ANSWER_BODY) == ANSWER_MESSAGE
    assert signing.response_message(TIMESTAMP, ANSWER_NONCE, b"") == EMPTY_ANSWER_MESSAGE


@pytest.mark.parametrize("body, signature", [(ANSWER_BODY, ANSWER_SIGNATURE), (b"", EMPTY_ANSWER_SIGNATURE)], ids=["json", "204"])
def test_client_verifier_accepts_the_known_answer_and_nothing_else(body, signature):
    verifier = Verifier([VerificationKey("PUB_KEY_ID_0114KAT", KEY.public_key(), "public_key")],
                        clock=lambda: 1764000000.0)
    headers = {"Wechatpay-Timestamp": TIMESTAMP, "Wechatpay-Nonce": ANSWER_NONCE,
               "Wechatpay-Signature": signature, "Wechatpay-Serial": "PUB_KEY_ID_0114KAT"}
    verifier.verify(headers, body)
    with pytest.raises(signing.VerificationError):
        Verifier([VerificationKey("PUB_KEY_ID_0114KAT", KEY.public_key(), "public_key")],
                 clock=lambda: 1764000000.0).verify({**headers, "Wechatpay-Nonce": ANSWER_NONCE + "x"}, body)


def test_client_signature_checks_are_strict():
    assert signing.rsa_verify(KEY.public_key(), ANSWER_MESSAGE, ANSWER_SIGNATURE)
    assert not signing.rsa_verify(KEY.public_key(), ANSWER_MESSAGE[:-1], ANSWER_SIGNATURE)  # last \n dropped
    assert not signing.rsa_verify(KEY.public_key(), ANSWER_MESSAGE, ANSWER_SIGNATURE[:-2] + "\n==")  # not strict base64


def test_client_aead_vector():
    assert signing.aead_decrypt(AEAD["key"].encode(), AEAD["nonce"], AEAD["aad"], AEAD["ciphertext"]) == AEAD["plaintext"]
    assert signing.aead_encrypt(AEAD["key"].encode(), AEAD["nonce"], AEAD["aad"], AEAD["plaintext"]) == AEAD["ciphertext"]


# -- the sandbox's side ---------------------------------------------------------

def test_sandbox_request_message_and_check():
    assert protocol.signed_request("POST", "/v3/offlineface/repayment-url", TIMESTAMP, REQUEST_NONCE, REQUEST_BODY) == REQUEST_MESSAGE
    assert protocol.signed_request("GET", "/v3/certificates", TIMESTAMP, "N", b"") == b"GET\n/v3/certificates\n1764000000\nN\n\n"
    assert protocol.verify(KEY.public_key(), REQUEST_MESSAGE, REQUEST_SIGNATURE)
    assert not protocol.verify(KEY.public_key(), REQUEST_MESSAGE[:-1], REQUEST_SIGNATURE)
    assert not protocol.verify(KEY.public_key(), REQUEST_MESSAGE, REQUEST_SIGNATURE.replace("+", "-"))
    # Base64 is read strictly: a signature with stray characters is not the one that was sent.
    assert not protocol.verify(KEY.public_key(), REQUEST_MESSAGE, REQUEST_SIGNATURE[:10] + "\n" + REQUEST_SIGNATURE[10:])
    assert not protocol.verify(KEY.public_key(), REQUEST_MESSAGE, REQUEST_SIGNATURE + "$")


def test_sandbox_reads_the_known_authorization_header():
    assert protocol.authorization_fields(AUTHORIZATION) == {
        "mchid": "1900000001", "nonce_str": REQUEST_NONCE, "timestamp": TIMESTAMP, "serial_no": SERIAL,
        "signature": REQUEST_SIGNATURE,
    }
    assert protocol.authorization_fields("WECHATPAY2-SHA256-RSA4096 " + AUTHORIZATION.split(" ", 1)[1]) is None


def test_sandbox_answer_message_and_signature():
    assert protocol.signed_answer(TIMESTAMP, ANSWER_NONCE, ANSWER_BODY) == ANSWER_MESSAGE
    assert protocol.signed_answer(TIMESTAMP, ANSWER_NONCE, b"") == EMPTY_ANSWER_MESSAGE
    assert protocol.sign(KEY, ANSWER_MESSAGE) == ANSWER_SIGNATURE
    assert protocol.sign(KEY, EMPTY_ANSWER_MESSAGE) == EMPTY_ANSWER_SIGNATURE


def test_sandbox_aead_vector():
    assert protocol.seal(AEAD["key"], AEAD["nonce"], AEAD["aad"], AEAD["plaintext"]) == AEAD["ciphertext"]


def test_sandbox_oaep_field_decrypts_with_the_merchant_key():
    sealed = protocol.encrypt_for(KEY.public_key(), "张小明")
    assert len(base64.b64decode(sealed)) == 256
    assert signing.oaep_decrypt(KEY, sealed) == "张小明"
