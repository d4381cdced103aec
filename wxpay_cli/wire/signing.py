"""The WeChat Pay APIv3 signing protocol, as pure functions and small classes.

- `Signer` builds the `Authorization` header for a request (RSA PKCS#1 v1.5,
  SHA-256, over `METHOD\\nTARGET\\nTIMESTAMP\\nNONCE\\nBODY\\n`).
- `Verifier` checks a response's `Wechatpay-*` headers and signature over
  `TIMESTAMP\\nNONCE\\nBODY\\n` with the key its `Wechatpay-Serial` names.
- `aead_decrypt` / `aead_encrypt` (AES-256-GCM) and `oaep_decrypt` /
  `oaep_encrypt` (RSA-OAEP) for the encrypted fields.

No I/O and no httpx here. The clients build on this module; the sandbox does
not: it has its own protocol code (`sandbox/protocol.py`), so a mistake made on
both sides cannot pass the tests. The protocol is WeChat Pay's APIv3 signature
scheme (签名生成 / 签名验证 in WeChat Pay's developer documentation).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from array import array
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wxpay_cli.errors import VerificationError
from wxpay_cli.i18n import _
from wxpay_cli.wire import serials

SCHEME = "WECHATPAY2-SHA256-RSA2048"
TIMESTAMP_WINDOW = 300  # seconds; the official SDKs' window
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
_UNIX_TIME = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would take "١٢", " 1", "1_0"


def make_nonce(length: int = 32) -> str:
    """A random nonce of `length` characters from [0-9a-zA-Z], from the OS CSPRNG.

    Base64 of random bytes is uniform over 64 symbols; dropping `+` and `/`
    leaves it uniform over the 62 the protocol allows. One `token_bytes` call
    instead of one `secrets.choice` per character (about 30x cheaper).
    """
    nonce = b""
    while len(nonce) < length:
        nonce += base64.b64encode(secrets.token_bytes(48)).translate(None, b"+/")
    return nonce[:length].decode("ascii")


def request_message(method: str, target: str, timestamp: int | str, nonce: str, body: bytes) -> bytes:
    """The five-line message a request signature covers (each line ends in \\n)."""
    head = f"{method.upper()}\n{target}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """The three-line message a response signature covers (an empty body still ends in \\n)."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def rsa_sign(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 RSA PKCS#1 v1.5 / SHA-256 signature of `message`."""
    raw = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    """True when `signature_b64` is a valid signature of `message` by `public_key`."""
    try:
        raw = base64.b64decode(signature_b64, validate=True)
        public_key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


class Signer:
    """Signs requests for one merchant: `mchid`, certificate `serial_no` and private key."""

    def __init__(self, mchid: str, serial_no: str, private_key: rsa.RSAPrivateKey):
        self.mchid = mchid
        self.serial_no = serials.key_id(serial_no)  # written as openssl does, whatever the profile said
        self._private_key = private_key

    def __repr__(self) -> str:  # never show the key
        return f"Signer(mchid={self.mchid!r}, serial_no={self.serial_no!r})"

    def authorization(
        self,
        method: str,
        target: str,
        body: bytes,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> str:
        """The `Authorization` header value for exactly these request bytes."""
        timestamp = int(time.time()) if timestamp is None else timestamp
        nonce = make_nonce() if nonce is None else nonce
        signature = rsa_sign(self._private_key, request_message(method, target, timestamp, nonce, body))
        return (
            f'{SCHEME} mchid="{self.mchid}",nonce_str="{nonce}",timestamp="{timestamp}",'
            f'serial_no="{self.serial_no}",signature="{signature}"'
        )

    def decrypt(self, ciphertext_b64: str) -> str:
        """Decrypt a field WeChat encrypted for this merchant (RSA-OAEP); ValueError if it is not one."""
        return oaep_decrypt(self._private_key, ciphertext_b64)


_PAIR = re.compile(r'([a-z_]+)="([^"]*)"')


def parse_authorization(value: str) -> dict[str, str] | None:
    """The key/value pairs of an `Authorization` header, or None if it is not ours."""
    scheme, _sep, rest = value.partition(" ")
    if scheme != SCHEME:
        return None
    return dict(_PAIR.findall(rest))


def redact_authorization(value: str) -> str:
    """The header with its signature cut to a short prefix, safe for traces."""
    return re.sub(r'signature="([^"]{0,8})[^"]*"', r'signature="\1…(redacted)"', value)


@dataclass(frozen=True)
class VerificationKey:
    """A key WeChat signs responses with: a public key id or a platform certificate serial."""

    key_id: str
    public_key: rsa.RSAPublicKey
    kind: str  # "public_key" or "platform_cert"
    not_after: float | None = None  # certificate expiry (unix time), when known


class Verifier:
    """Checks that a response really came from WeChat Pay.

    Keys are picked by the response's `Wechatpay-Serial` from one map built from
    the profile's public key and platform certificates (both may be present
    during a migration).
    """

    def __init__(
        self,
        keys: list[VerificationKey],
        *,
        clock: Callable[[], float] = time.time,
        window: int = TIMESTAMP_WINDOW,
        shared_nonces=None,
    ):
        self.keys = {serials.key_id(key.key_id): key for key in keys}
        self._clock = clock
        self._window = window
        # Nonces accepted by other wxpay processes too (local.nonces.SeenNonces), or None: this process only.
        self.shared_nonces = shared_nonces
        # Nonces of answers accepted within the window: a second answer with one is a replay.
        self._seen_nonces = NonceMemory(keep=2 * window)

    @property
    def serial(self) -> str | None:
        """The id to send as `Wechatpay-Serial`: the public key id, else the newest certificate."""
        public = [k for k in self.keys.values() if k.kind == "public_key"]
        if public:
            return public[0].key_id
        certs = sorted(self.keys.values(), key=lambda k: k.not_after or 0)
        return certs[-1].key_id if certs else None

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise VerificationError unless `headers` carry a valid WeChat signature of `body`."""
        request_id = headers.get("Request-ID")

        def fail(reason: str) -> VerificationError:
            return VerificationError(
                _("response failed verification: {reason}; nothing from it was used").format(reason=reason),
                request_id=request_id,
            )

        values = {}
        for name in ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial"):
            value = headers.get(name)
            if not value:
                raise fail(_("missing header {name}").format(name=name))
            values[name] = value
        timestamp, nonce = values["Wechatpay-Timestamp"], values["Wechatpay-Nonce"]
        signature, serial = values["Wechatpay-Signature"], values["Wechatpay-Serial"]

        signature_type = headers.get("Wechatpay-Signature-Type")
        if signature_type and signature_type != SCHEME:
            raise fail(_("unsupported Wechatpay-Signature-Type {signature_type}").format(signature_type=signature_type[:64]))
        if signature.startswith(SIGNTEST_PREFIX):
            raise fail(_("WeChat sent a signature probe (WECHATPAY/SIGNTEST/)"))
        key = self.keys.get(serials.key_id(serial))
        if key is None:
            known = ", ".join(sorted(self.keys)) or "none"
            raise fail(
                _("unknown Wechatpay-Serial {serial} (known: {known}); run `wxpay certs download` or check public_key_id").format(serial=serial[:64], known=known)
            )
        if not _UNIX_TIME.fullmatch(timestamp):
            raise fail(_("Wechatpay-Timestamp is not a unix time"))
        now = self._clock()
        skew = abs(now - int(timestamp))
        if skew > self._window:
            raise fail(_("Wechatpay-Timestamp is {skew} s away from the local clock (limit {window} s)").format(skew=int(skew), window=self._window))
        if not rsa_verify(key.public_key, response_message(timestamp, nonce, body), signature):
            raise fail(_("bad signature (key {serial})").format(serial=key.key_id))  # as known: the header may be any length
        self._check_fresh(nonce, now, fail)

    def _check_fresh(self, nonce: str, now: float, fail: Callable[[str], VerificationError]) -> None:
        """Refuse an answer whose nonce came before within the window: a replayed answer."""
        # A replay keeps its timestamp, so it passes the window check at most 2 x window
        # seconds after the first copy was seen: the memory keeps nonces that long.
        if not self._seen_nonces.add(nonce, now) or (
                self.shared_nonces is not None and self.shared_nonces.seen(nonce, now)):
            raise fail(_("the answer is a replay (its Wechatpay-Nonce was seen before)"))


class NonceMemory:
    """The nonces seen in the last `keep` seconds, in about 16-32 bytes each.

    A dict of nonce strings costs about 170 bytes an answer (a 32-character str,
    a float, a dict slot), and a 100,000-row batch arrives well within the
    600 s the nonces must be kept: memory grew with the batch. Here a nonce is
    kept as a 64-bit BLAKE2b fingerprint, keyed with a random per-process key
    so that nobody can aim a collision (an accidental one, a fresh answer
    refused as a replay, has odds of about n / 2**63), in open-addressing
    tables of `array('Q')`: 8 bytes a slot, between a quarter and half full.

    Time is kept per slice rather than per nonce: one table for each
    `keep / SLICES` seconds, dropped whole once its newest nonce is older than
    `keep`. A nonce is so remembered for at least `keep` seconds and at most
    one slice longer, which refuses nothing real: a replay that old fails the
    timestamp check anyway.
    """

    SLICES = 8
    _KEY = secrets.token_bytes(16)

    def __init__(self, keep: float):
        self._keep = keep
        self._slice = keep / self.SLICES
        self._tables: deque[_FingerprintTable] = deque()  # oldest first

    def __len__(self) -> int:
        return sum(table.count for table in self._tables)

    def __contains__(self, nonce: str) -> bool:
        """Whether `nonce` is remembered (without adding it)."""
        fingerprint = self._fingerprint(nonce)
        return any(fingerprint in table for table in self._tables)

    def add(self, nonce: str, now: float) -> bool:
        """Remember `nonce` as seen at `now`; False if it was seen within the last `keep` seconds."""
        tables = self._tables
        while tables:  # forget whole slices, oldest first
            if now - tables[0].newest <= self._keep:
                break
            tables.popleft()
        fingerprint = self._fingerprint(nonce)
        if any(fingerprint in table for table in tables):
            return False
        if not tables or now - tables[-1].started > self._slice:
            tables.append(_FingerprintTable(now))
        tables[-1].add(fingerprint, now)
        return True

    def _fingerprint(self, nonce: str) -> int:
        digest = hashlib.blake2b(nonce.encode("utf-8", "surrogatepass"), digest_size=8, key=self._KEY).digest()
        return int.from_bytes(digest, "little") | 1  # 0 marks an empty slot


class _FingerprintTable:
    """A set of non-zero 64-bit ints in one `array('Q')`, linear probing, at most half full."""

    __slots__ = ("started", "newest", "count", "_slots")

    def __init__(self, now: float, size: int = 64):
        self.started = self.newest = now
        self.count = 0
        self._slots = array("Q", bytes(8 * size))

    def _index(self, fingerprint: int) -> int:
        """Where `fingerprint` is, or the empty slot where it would go."""
        slots = self._slots
        mask = len(slots) - 1
        index = fingerprint & mask
        while slots[index] and slots[index] != fingerprint:
            index = (index + 1) & mask
        return index

    def __contains__(self, fingerprint: int) -> bool:
        return self._slots[self._index(fingerprint)] == fingerprint

    def add(self, fingerprint: int, now: float) -> None:
        if 2 * (self.count + 1) > len(self._slots):
            old, self._slots = self._slots, array("Q", bytes(16 * len(self._slots)))
            for value in old:
                if value:
                    self._slots[self._index(value)] = value
        self._slots[self._index(fingerprint)] = fingerprint
        self.count += 1
        self.newest = max(self.newest, now)


def aead_decrypt(key: bytes, nonce: str, associated_data: str, ciphertext_b64: str) -> bytes:
    """AES-256-GCM decrypt as WeChat Pay uses it; ValueError when the key or data is wrong."""
    if len(key) != 32:
        raise ValueError(_("the APIv3 key must be 32 bytes"))
    try:
        return AESGCM(key).decrypt(
            nonce.encode(), base64.b64decode(ciphertext_b64), (associated_data or "").encode()
        )
    except InvalidTag:
        raise ValueError(_("decryption failed: wrong APIv3 key or tampered data")) from None


def aead_encrypt(key: bytes, nonce: str, associated_data: str, plaintext: bytes) -> str:
    """The inverse of `aead_decrypt` (used by the sandbox): base64 of data + tag."""
    return base64.b64encode(AESGCM(key).encrypt(nonce.encode(), plaintext, associated_data.encode())).decode()


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)


def oaep_encrypt(public_key: rsa.RSAPublicKey, text: str) -> str:
    """RSA-OAEP (SHA-1, as WeChat Pay uses) encrypt `text`, base64."""
    return base64.b64encode(public_key.encrypt(text.encode(), _oaep())).decode()


def oaep_decrypt(private_key: rsa.RSAPrivateKey, ciphertext_b64: str) -> str:
    """Decrypt a field that WeChat encrypted with our public key; ValueError if it is not one."""
    try:
        raw = base64.b64decode(ciphertext_b64, validate=True)
        return private_key.decrypt(raw, _oaep()).decode()
    except Exception as exc:  # binascii.Error, ValueError, UnicodeDecodeError
        raise ValueError(_("cannot decrypt: {exc}").format(exc=exc)) from None
