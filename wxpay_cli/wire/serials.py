"""The one rule for certificate serials: read any way, compare by value, write as openssl does.

WeChat (`Wechatpay-Serial`, `/v3/certificates`), the merchant platform and
`openssl x509 -noout -serial` write a serial as whole bytes of upper-case hex,
a leading 0 kept (`0A1B…`, 40 digits for WeChat's 20-byte serials).
hex formatting of the number drops that 0 for one certificate in sixteen, so nothing in
wxpay formats a serial by hand: `canonical` reads what people paste (any case,
any leading zeros, openssl's `serial=` prefix, `-text`'s colons) and writes
the one form every comparison and every file name uses.

Public key ids (`PUB_KEY_ID_…`) are not serials: `key_id` leaves them exactly
as given (they compare case-sensitively).
"""

from __future__ import annotations

import re

from wxpay_cli.i18n import _

_HEX = re.compile(r"[0-9A-Fa-f]+")


def from_int(number: int) -> str:
    """A certificate's serial number as openssl prints it: whole bytes, upper-case hex."""
    if number < 0:
        raise ValueError(_("a certificate serial is not negative"))
    return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big").hex().upper()


def of_certificate(certificate) -> str:
    """The serial of a `cryptography` x509 certificate, written as openssl does."""
    return from_int(certificate.serial_number)


def canonical(text: str) -> str:
    """The canonical form of a serial typed or pasted in any form; ValueError if it is not one."""
    value = text.strip()
    if value[:7].lower() == "serial=":
        value = value[7:].strip()
    value = value.replace(":", "")
    if not _HEX.fullmatch(value):
        raise ValueError(_("{text!r} is not a certificate serial in hex").format(text=text))
    return from_int(int(value, 16))


def is_serial(text: str) -> bool:
    """True when `text` reads as a certificate serial (hex, as `canonical` accepts it)."""
    try:
        canonical(text)
    except ValueError:
        return False
    return True


def same(a: str, b: str) -> bool:
    """True when two written serials name the same certificate (by value)."""
    try:
        return canonical(a) == canonical(b)
    except ValueError:
        return False


def key_id(text: str) -> str:
    """The lookup key for a verification key id: a serial's canonical form, a public key id as is."""
    if _HEX.fullmatch(text):
        return from_int(int(text, 16))
    return text
