"""The server side of the APIv3 protocol, written apart from the client's `signing`.

The sandbox checks requests and signs answers with this module only: if it
shared code with `wxpay_cli.wire.signing`, a mistake made on both sides (a field
order swapped, a last newline dropped, a serial that loses its leading 0)
would pass every test. Known-answer vectors in tests/test_protocol_vectors.py
pin this module and `signing` separately. Written from WeChat Pay's APIv3
signature scheme as documented, not from the client's code.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEME = "WECHATPAY2-SHA256-RSA2048"
WINDOW = 300  # seconds a request timestamp may be away from the server clock
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
AUTH_FIELDS = ("mchid", "nonce_str", "timestamp", "serial_no", "signature")  # all required, none empty


def lines(*fields: bytes) -> bytes:
    """Each field followed by a newline, the last one too: how APIv3 builds every signed message."""
    return b"".join(field + b"\n" for field in fields)


def signed_request(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a merchant signs: method, path?query as sent, timestamp, nonce, body."""
    return lines(method.encode(), target.encode(), timestamp.encode(), nonce.encode(), body)


def signed_answer(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What WeChat signs in an answer: timestamp, nonce, raw body (an empty body still gets its newline)."""
    return lines(timestamp.encode(), nonce.encode(), body)


def sign(private_key, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5), standard base64."""
    return base64.standard_b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def verify(public_key, message: bytes, signature: str) -> bool:
    """Strict check: the signature must be canonical base64 of a valid SHA256withRSA signature."""
    try:
        raw = binascii.a2b_base64(signature.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False
    try:
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def authorization_fields(header: str) -> dict[str, str] | None:
    """The pairs of `WECHATPAY2-SHA256-RSA2048 k="v",…`; None for another scheme or a malformed list."""
    scheme, space, rest = header.partition(" ")
    if scheme != SCHEME or not space:
        return None
    fields: dict[str, str] = {}
    for pair in rest.strip().split(","):
        name, equals, quoted = pair.strip().partition("=")
        if not equals or len(quoted) < 2 or quoted[0] != '"' or quoted[-1] != '"':
            return None
        fields[name] = quoted[1:-1]
    return fields


def serial_text(number: int) -> str:
    """A certificate serial as openssl prints it: the big-endian bytes, two upper-case digits each."""
    size = max(1, (number.bit_length() + 7) // 8)
    return number.to_bytes(size, "big").hex().upper()


def serial_value(text: str) -> int | None:
    """The number a written serial stands for (any case, any leading zeros); None if not hex."""
    if not text or any(c not in "0123456789abcdefABCDEF" for c in text):
        return None
    return int(text, 16)


def names_key(written: str, key_id: str) -> bool:
    """Does `written` (from a request) name `key_id`: serials by value, public key ids exactly."""
    if key_id.startswith("PUB_KEY_ID_"):
        return written == key_id
    mine, theirs = serial_value(key_id), serial_value(written)
    return mine is not None and mine == theirs


def nonce(length: int = 32) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def seal(apiv3_key: str, nonce_text: str, associated_data: str, plaintext: bytes) -> str:
    """AEAD_AES_256_GCM as in `/v3/certificates`: base64(ciphertext || 16-byte tag)."""
    box = AESGCM(apiv3_key.encode("utf-8"))
    return base64.standard_b64encode(box.encrypt(nonce_text.encode("utf-8"), plaintext, associated_data.encode("utf-8"))).decode()


def encrypt_for(public_key, text: str) -> str:
    """RSA-OAEP (SHA-1 / MGF1-SHA-1) of a sensitive field, for the merchant to decrypt."""
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    return base64.standard_b64encode(public_key.encrypt(text.encode("utf-8"), oaep)).decode()
