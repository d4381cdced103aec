"""`GET /v3/certificates`: WeChat Pay platform certificates, decrypted and checked.

The first download cannot be verified with a certificate the merchant does not
have yet, so the order is: send signed, decrypt each certificate with the APIv3
key (the AES-GCM tag proves it came from someone holding that key), check each
decrypted certificate's serial is the one the item names, and only then verify
the response's signature with those certificates (plus any key the profile
already has). Nothing is returned unless all of that holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from wxpay_cli.errors import ApiError, ConfigError, VerificationError
from wxpay_cli.i18n import _
from wxpay_cli.local import keys
from wxpay_cli.wire import api, serials
from wxpay_cli.wire.client import Client
from wxpay_cli.wire.signing import VerificationKey, Verifier, aead_decrypt

APIV3_KEY_ENV = "WXPAY_APIV3_KEY"


@dataclass(frozen=True)
class PlatformCertificate:
    """One decrypted platform certificate: its PEM and the facts read from it."""

    serial_no: str
    pem: bytes
    certificate: keys.Certificate

    def verification_key(self) -> VerificationKey:
        return VerificationKey(
            self.serial_no, self.certificate.public_key, "platform_cert", self.certificate.not_after.timestamp()
        )


@dataclass(frozen=True)
class Download:
    """A verified answer from `GET /v3/certificates`."""

    certificates: list[PlatformCertificate]
    request_id: str | None


def check_apiv3_key(apiv3_key: str) -> bytes:
    """The APIv3 key as the 32 bytes AES-256 needs, or a ConfigError."""
    raw = apiv3_key.encode()
    if len(raw) != 32:
        raise ConfigError(
            _("the APIv3 key must be 32 bytes (32 ASCII characters), this one has {count} bytes").format(count=len(raw)),
            hint=_("set {APIV3_KEY_ENV} to the APIv3 key set on the merchant platform (API安全)").format(APIV3_KEY_ENV=APIV3_KEY_ENV),
        )
    return raw


def decrypt_certificates(data: object, apiv3_key: str, *, request_id: str | None = None) -> list[PlatformCertificate]:
    """Decrypt and check every item of a `/v3/certificates` answer."""
    key = check_apiv3_key(apiv3_key)

    def bad(reason: str) -> VerificationError:
        return VerificationError(_("WeChat's certificate list {reason}; nothing was saved").format(reason=reason), request_id=request_id)

    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise bad(_("has no certificates"))
    found = []
    for item in items:
        encrypted = item.get("encrypt_certificate") if isinstance(item, dict) else None
        if not isinstance(encrypted, dict) or not isinstance(item.get("serial_no"), str):
            raise bad(_("has an item without serial_no or encrypt_certificate"))
        if not serials.is_serial(item["serial_no"]):
            raise bad(_("has an item whose serial_no is not hex"))
        serial = serials.canonical(item["serial_no"])
        if encrypted.get("algorithm") != "AEAD_AES_256_GCM":
            raise bad(_("uses an unknown algorithm {get!r} for {serial}").format(get=encrypted.get('algorithm'), serial=serial))
        try:
            pem = aead_decrypt(
                key, str(encrypted.get("nonce", "")), str(encrypted.get("associated_data") or ""),
                str(encrypted.get("ciphertext", "")),
            )
        except ValueError:
            raise ConfigError(
                _("cannot decrypt platform certificate {serial}: the APIv3 key is wrong; nothing was saved").format(serial=serial),
                hint=_("set {APIV3_KEY_ENV} to the APIv3 key set on the merchant platform (API安全), not the API v2 key").format(APIV3_KEY_ENV=APIV3_KEY_ENV),
            ) from None
        try:
            certificate = keys.load_certificate(pem, source=_("platform certificate {serial}").format(serial=serial))
        except ConfigError as exc:
            raise bad(_("item {serial} decrypts to something that is not a certificate ({message})").format(serial=serial, message=exc.message)) from None
        if certificate.serial_no != serial:
            raise bad(_("item {serial} holds a certificate with another serial ({serial_no})").format(serial=serial, serial_no=certificate.serial_no))
        found.append(PlatformCertificate(serial, pem, certificate))
    return found


def download_certificates(client: Client, apiv3_key: str) -> Download:
    """GET /v3/certificates, decrypted, checked and verified (see the module docstring)."""
    check_apiv3_key(apiv3_key)  # a bad key is a local mistake: say so before sending anything
    try:
        response = client.unverified(api.list_certificates())
    except ApiError as exc:
        if exc.http_status == 404 and exc.code == "RESOURCE_NOT_EXISTS":
            raise exc.wrapped(exc.message, hint=_("this merchant has no platform certificates: "
                                                 "add public_key_id and public_key instead")) from exc
        raise
    request_id = response.request_id
    try:
        data = json.loads(response.body)
    except (ValueError, RecursionError):
        raise VerificationError(_("WeChat's certificate list is not JSON; nothing was saved"), request_id=request_id) from None
    certificates = decrypt_certificates(data, apiv3_key, request_id=request_id)
    if any(serials.same(c.serial_no, client.signer.serial_no) for c in certificates):
        raise VerificationError(_("WeChat's certificate list holds the merchant's own serial; nothing was saved"),
                                request_id=request_id)
    known = list(client.verifier.keys.values()) if client.verifier else []
    Verifier(known + [c.verification_key() for c in certificates]).verify(response.headers, response.body)
    return Download(certificates, request_id)
