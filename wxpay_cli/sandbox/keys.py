"""Throw-away credentials for the sandbox: a merchant and the WeChat side.

`SandboxKeys.generate()` makes fresh RSA-2048 keys: the merchant's key with its
API certificate (whose serial is `serial_no`), a WeChat Pay public key with a
`PUB_KEY_ID_…` id, a platform certificate, and an APIv3 key. `write()` puts the
files a profile needs into a folder (key files mode 600).
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

    def write(self, folder: Path) -> dict[str, Path]:
        """Write the merchant's files; returns their paths by role."""
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            "private_key": (folder / "apiclient_key.pem", private_pem(self.merchant_key)),
            "merchant_cert": (folder / "apiclient_cert.pem", cert_pem(self.merchant_cert)),
            "public_key": (folder / "pub_key.pem", public_pem(self.wechat_key.public_key())),
            "platform_cert": (folder / f"wechatpay_{self.platform_serial}.pem", cert_pem(self.platform_cert)),
        }
        for path, data in files.values():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        return {role: path for role, (path, _) in files.items()}
