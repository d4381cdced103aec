"""Reading PEM keys and certificates, with errors an operator can act on.

Every failure here is a `ConfigError` (exit 3) naming the file and saying what
to do; nothing here ever puts key material into a message.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wxpay_cli.errors import ConfigError
from wxpay_cli.i18n import _
from wxpay_cli.wire import serials

PASSWORD_ENV = "WXPAY_PRIVATE_KEY_PASSWORD"


MAX_PEM_BYTES = 64 * 1024  # a key or certificate is a few KiB; /dev/zero is endless


def read_pem_file(path: Path, what: str) -> bytes:
    """The bytes of a PEM file, or a ConfigError saying why it cannot be read."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_PEM_BYTES:
            raise ConfigError(_("{what} {path} is not a PEM file (not a regular file of at most 64 KiB)").format(what=what, path=path))
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(_("{what} file not found: {path}").format(what=what, path=path), hint=_("check the path in your profile")) from None
    except IsADirectoryError:
        raise ConfigError(_("{what} path is a folder, not a file: {path}").format(what=what, path=path)) from None
    except OSError as exc:
        raise ConfigError(_("cannot read {what} file {path}: {reason}").format(what=what, path=path, reason=exc.strerror)) from None


def load_private_key(data: bytes, *, source: str, password: str | None = None,
                     check_consistency: bool = True) -> rsa.RSAPrivateKey:
    """Parse the merchant's RSA private key (PKCS#8 or PKCS#1 PEM, optionally encrypted).

    `check_consistency=False` skips cryptography's RSA parameter check (about
    35 ms): only for the key a command signs with, which `config check` and
    `config init` have checked in full, and which the server checks anyway.
    """
    if b"BEGIN CERTIFICATE" in data and b"PRIVATE KEY" not in data:
        raise ConfigError(
            _("{source} holds a certificate, not a private key").format(source=source),
            hint=_("point private_key at apiclient_key.pem, not apiclient_cert.pem"),
        )
    if b"PRIVATE KEY" not in data:
        raise ConfigError(_("{source} is not a PEM private key").format(source=source), hint=_("expected apiclient_key.pem from the merchant platform"))
    encrypted = b"ENCRYPTED" in data
    if encrypted and not password:
        raise ConfigError(
            _("{source} is encrypted and no passphrase was given").format(source=source),
            hint=f"set {PASSWORD_ENV}",
        )
    try:
        key = serialization.load_pem_private_key(
            data, password=password.encode() if (password and encrypted) else None,
            unsafe_skip_rsa_key_validation=not check_consistency,
        )
    except (ValueError, TypeError) as exc:
        if encrypted:
            raise ConfigError(_("cannot decrypt {source}: wrong passphrase").format(source=source), hint=f"check {PASSWORD_ENV}") from None
        raise ConfigError(_("{source} is not a valid private key ({reason})").format(source=source, reason=_first_line(exc))) from None
    except Exception as exc:  # cryptography raises UnsupportedAlgorithm and friends
        raise ConfigError(_("{source} is not a usable private key ({reason})").format(source=source, reason=_first_line(exc))) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(_("{source} is not an RSA key; WeChat Pay APIv3 uses RSA 2048").format(source=source))
    return key


def load_public_key(data: bytes, *, source: str) -> rsa.RSAPublicKey:
    """Parse the WeChat Pay public key (pub_key.pem)."""
    if b"BEGIN CERTIFICATE" in data:
        raise ConfigError(
            _("{source} is a certificate, not a public key").format(source=source),
            hint=_("list certificates under platform_certs; public_key is pub_key.pem"),
        )
    if b"PRIVATE KEY" in data:
        raise ConfigError(_("{source} is a private key; public_key must be WeChat Pay's pub_key.pem").format(source=source))
    try:
        key = serialization.load_pem_public_key(data)
    except Exception as exc:
        raise ConfigError(_("{source} is not a valid PEM public key ({reason})").format(source=source, reason=_first_line(exc))) from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ConfigError(_("{source} is not an RSA public key").format(source=source))
    return key


@dataclass(frozen=True)
class Certificate:
    """The parts of an X.509 certificate wxpay uses."""

    serial_no: str  # as openssl and WeChat write it (serials.canonical)
    public_key: rsa.RSAPublicKey
    not_before: datetime
    not_after: datetime
    subject: str


def load_certificate(data: bytes, *, source: str) -> Certificate:
    """Parse a PEM certificate (platform or merchant)."""
    if b"PRIVATE KEY" in data:
        raise ConfigError(_("{source} is a private key, not a certificate").format(source=source))
    from cryptography import x509  # only certificate users pay for importing x509

    try:
        cert = x509.load_pem_x509_certificate(data)
    except Exception as exc:
        raise ConfigError(_("{source} is not a valid PEM certificate ({reason})").format(source=source, reason=_first_line(exc))) from None
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ConfigError(_("{source} does not hold an RSA key").format(source=source))
    return Certificate(
        serial_no=serials.of_certificate(cert),
        public_key=public_key,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        subject=cert.subject.rfc4514_string(),
    )


def fingerprint(public_key: rsa.RSAPublicKey) -> str:
    """SHA-256 of the public key (SubjectPublicKeyInfo DER), shortened for display."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + hashlib.sha256(der).hexdigest()[:32]


def key_matches(private_key: rsa.RSAPrivateKey, public_key: rsa.RSAPublicKey) -> bool:
    """True when `public_key` is the public half of `private_key` (e.g. of apiclient_cert.pem)."""
    return private_key.public_key().public_numbers() == public_key.public_numbers()


# Windows keeps who may read a file in its ACL; the mode Python shows there says "readable by
# all" for every file, so a warning would be false and its advice (chmod) impossible.
FILE_MODES = os.name != "nt"


def loose_permissions(path: Path) -> bool:
    """True when a file is readable by group or others (never said where files have no modes:
    Windows, where the user's own folder is private to the account by default)."""
    if not FILE_MODES:
        return False
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def private_key_password() -> str | None:
    """The private key passphrase from the environment, if any."""
    return os.environ.get(PASSWORD_ENV) or None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
