"""Throw-away credentials for the sandbox: a merchant and the WeChat side.

`SandboxKeys.generate()` makes fresh RSA-2048 keys: the merchant's key with its
API certificate (whose serial is `serial_no`), a WeChat Pay public key with a
`PUB_KEY_ID_…` id, a platform certificate, and an APIv3 key. `write()` puts the
files a profile needs into a folder (key files mode 600); `save()` / `load()`
keep the whole set (the WeChat side too) for `sandbox serve --state DIR`.
"""

from __future__ import annotations

import os
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

BINARY = getattr(os, "O_BINARY", 0)  # Windows translates line ends in files opened without it

DEMO_MCHID = "1900000001"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_certificate(key: rsa.RSAPrivateKey, common_name: str, *, days: int = 365, serial: int | None = None,
                     not_before: datetime | None = None) -> x509.Certificate:
    """A self-signed certificate for `key` (good enough for a loopback emulator)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = not_before or datetime.now(UTC) - timedelta(days=1)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def private_pem(key: rsa.RSAPrivateKey, password: str | None = None) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_serial(cert: x509.Certificate) -> str:
    """The serial as WeChat and openssl write it (leading 0 kept): the sandbox's own formatting."""
    from wxpay_cli.sandbox.protocol import serial_text

    return serial_text(cert.serial_number)


def zero_led_serial() -> int:
    """A random 20-byte serial whose first hex digit is 0, like one WeChat certificate in sixteen."""
    return int.from_bytes(bytes([secrets.randbelow(15) + 1]) + secrets.token_bytes(19), "big")


@dataclass
class SandboxKeys:
    mchid: str
    merchant_key: rsa.RSAPrivateKey
    merchant_cert: x509.Certificate
    wechat_key: rsa.RSAPrivateKey  # signs in public-key mode
    public_key_id: str
    platform_key: rsa.RSAPrivateKey  # signs in certificate mode
    platform_cert: x509.Certificate
    apiv3_key: str

    @property
    def serial_no(self) -> str:
        return cert_serial(self.merchant_cert)

    @property
    def platform_serial(self) -> str:
        return cert_serial(self.platform_cert)

    @property
    def zero_led(self) -> bool:
        """Do both certificates' serials start with 0, as `generate(zero_led=True)` makes them?"""
        return self.serial_no.startswith("0") and self.platform_serial.startswith("0")

    @classmethod
    def generate(cls, mchid: str = DEMO_MCHID, *, zero_led: bool = False) -> SandboxKeys:
        """Fresh keys; `zero_led` gives both certificates serials that start with 0 (0A1B…)."""
        merchant_key, wechat_key, platform_key = new_rsa_key(), new_rsa_key(), new_rsa_key()
        serial = zero_led_serial if zero_led else (lambda: None)
        return cls(
            mchid=mchid,
            merchant_key=merchant_key,
            merchant_cert=make_certificate(merchant_key, f"{mchid} sandbox merchant", serial=serial()),
            wechat_key=wechat_key,
            public_key_id="PUB_KEY_ID_0114" + "".join(secrets.choice(string.digits) for _ in range(24)),
            platform_key=platform_key,
            platform_cert=make_certificate(platform_key, "Tenpay.com sandbox platform", serial=serial()),
            apiv3_key="".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)),
        )

    def save(self, folder: Path) -> None:
        """Keep every key of this set in `folder` (mode 700; files 600), for `load`."""
        import json

        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        meta = {"mchid": self.mchid, "public_key_id": self.public_key_id, "apiv3_key": self.apiv3_key}
        for name, data in (
            ("merchant_key.pem", private_pem(self.merchant_key)), ("merchant_cert.pem", cert_pem(self.merchant_cert)),
            ("wechat_key.pem", private_pem(self.wechat_key)), ("platform_key.pem", private_pem(self.platform_key)),
            ("platform_cert.pem", cert_pem(self.platform_cert)), ("keys.json", json.dumps(meta).encode()),
        ):
            _write_private(folder / name, data)

    @classmethod
    def load(cls, folder: Path) -> SandboxKeys:
        """The set `save` kept; OSError or ValueError when it is missing or damaged."""
        import json

        def key(name: str) -> rsa.RSAPrivateKey:
            loaded = serialization.load_pem_private_key((folder / name).read_bytes(), None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError(f"{folder / name} is not an RSA key")
            return loaded

        def cert(name: str) -> x509.Certificate:
            return x509.load_pem_x509_certificate((folder / name).read_bytes())

        meta = json.loads((folder / "keys.json").read_text())
        return cls(
            mchid=str(meta["mchid"]), merchant_key=key("merchant_key.pem"), merchant_cert=cert("merchant_cert.pem"),
            wechat_key=key("wechat_key.pem"), public_key_id=str(meta["public_key_id"]),
            platform_key=key("platform_key.pem"), platform_cert=cert("platform_cert.pem"),
            apiv3_key=str(meta["apiv3_key"]),
        )

    def write(self, folder: Path) -> dict[str, Path]:
        """Write the merchant's files; returns their paths by role."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        files = {
            "private_key": (folder / "apiclient_key.pem", private_pem(self.merchant_key)),
            "merchant_cert": (folder / "apiclient_cert.pem", cert_pem(self.merchant_cert)),
            "public_key": (folder / "pub_key.pem", public_pem(self.wechat_key.public_key())),
            "platform_cert": (folder / f"wechatpay_{self.platform_serial}.pem", cert_pem(self.platform_cert)),
        }
        for path, data in files.values():
            _write_private(path, data)
        return {role: path for role, (path, _) in files.items()}


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | BINARY, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
