"""The shape of every endpoint's answer, declared once and checked before use.

A verified answer is still data to check: a field of the wrong type, a time
out of any sane range or a link that is not one https URL is refused (exit 5,
naming the field) before anything reads it, so no command meets a TypeError,
an AttributeError or an OverflowError further on. `check` also binds the
answer to its request: an id the answer carries must be the one asked for.

A field is `(type, required)`; the types are below. An optional field that is
null or "" counts as absent. Fields not declared are
kept as they came (JSON output shows WeChat's object) but never read; batch
lines keep them apart (`split`, flows/batch_lines.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from wxpay_cli.errors import VerificationError
from wxpay_cli.i18n import N_, _

MAX_TEXT = 2048  # characters in any string field; WeChat's are ids, names and one link
MAX_LINK = 2048  # a link this long still fits a QR code (version 40, level M: 2331 bytes)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

MAX_ID = 256  # as api.MAX_ID_LENGTH: an id wxpay may send back in a request path

TEXT, ID, FLAG, TIME, LINK = "text", "id", "flag", "time", "link"

# Upper-case T and Z only (as WeChat writes them): every reader of these times further on can parse them.
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})")
_LINK = re.compile(r"https://[!-~]+")  # printable ASCII after the scheme: no spaces, no controls

REPAYMENT_URL = {
    "repayment_url": (LINK, True),
    "expire_at": (TIME, True),
}
USER = {
    "user_id": (ID, False),
    "use_id": (ID, False),  # the mis-documented spelling some pages use
    "out_user_id": (ID, False),
    "organization_id": (ID, False),
    "user_name": (TEXT, False),
    "user_type": (TEXT, False),
    "student_info": ({"class_name": (TEXT, False)}, False),
    "staff_info": ({"occupation": (TEXT, False)}, False),
    "status": (TEXT, False),
    "contract_state": (TEXT, False),
    "face_image_ok": (FLAG, False),
    "contract_id": (ID, False),
}
CONTRACT = {
    "contract_id": (ID, False),
    "mchid": (TEXT, False),
    "organization_id": (ID, False),
    "user_id": (ID, False),
    "openid": (TEXT, False),
    "contract_state": (TEXT, False),
    "contract_signed_time": (TIME, False),
    "contract_terminated_time": (TIME, False),
    "contract_mode": (TEXT, False),
    "contract_bank_card_from": (TEXT, False),
}
ORGANIZATION = {
    "organization_id": (ID, True),
    "organization_name": (TEXT, True),
}


# Each endpoint's answer is recognised by its fields: an answer holding a field that only
# another endpoint declares is that endpoint's answer (a signed contract answer served for the
# user query), never this one's. The termination's empty 204 carries nothing to recognise: it
# is guarded by its signature's nonce and time alone (signing.Verifier).
ENDPOINTS = {
    N_("repayment link"): REPAYMENT_URL,
    N_("user query"): USER,
    N_("contract query"): CONTRACT,
    N_("organization query"): ORGANIZATION,
}


def _others(shape: dict) -> dict[str, str]:
    """Field -> the endpoint that declares it, for the fields `shape` does not declare."""
    return {field: name for name, other in ENDPOINTS.items() if other is not shape
            for field in other if field not in shape}


def check(shape: dict, data: dict | None, request_id: str | None, asked: dict[str, str] | None = None) -> dict:
    """`data` when it is an answer of `shape`'s endpoint, has its shape, and every id it carries is
    the one `asked` for; else VerificationError."""
    data = {} if data is None else data
    mine = next((name for name, other in ENDPOINTS.items() if other is shape), None)
    if mine is not None:
        for field, theirs in _others(shape).items():
            if data.get(field) not in (None, ""):  # a null field counts as absent, here as everywhere
                raise VerificationError(
                    _("WeChat's answer is not an answer to the {mine} (it holds {field}, a field of the {theirs}); "
                      "nothing from it was used").format(mine=_(mine), field=field, theirs=_(theirs)),
                    request_id=request_id)
    _check_object(shape, data, "", request_id)
    for name, value in (asked or {}).items():
        if data.get(name) not in (None, "", value):
            raise VerificationError(
                _("WeChat's answer is about another {field} than the one asked for; nothing from it was used")
                .format(field=name), request_id=request_id)
    return data


def split(shape: dict, data: dict) -> tuple[dict, dict]:
    """(`data`'s declared fields, the rest), each in `data`'s order; a declared object's own
    undeclared fields go to the rest under its name (`{"student_info": {"phone": ...}}`)."""
    declared: dict = {}
    undeclared: dict = {}
    for name, value in data.items():
        if name not in shape:
            undeclared[name] = value
            continue
        kind = shape[name][0]
        if isinstance(kind, dict) and isinstance(value, dict):
            value, rest = split(kind, value)
            if rest:
                undeclared[name] = rest
        declared[name] = value
    return declared, undeclared


def _check_object(shape: dict, data: dict, prefix: str, request_id: str | None) -> None:
    for name, (kind, required) in shape.items():
        value = data.get(name)
        field = prefix + name
        if value is None or (value == "" and not required):  # an empty optional field is an absent one
            if required:
                raise wrong(field, _("it is missing"), request_id)
            continue
        if isinstance(kind, dict):
            if not isinstance(value, dict):
                raise wrong(field, _("it is not an object"), request_id)
            _check_object(kind, value, field + ".", request_id)
        elif kind == FLAG:
            if not isinstance(value, bool):
                raise wrong(field, _("it is not true or false"), request_id)
        elif not isinstance(value, str) or not value or len(value) > MAX_TEXT:
            raise wrong(field, _("it is not a string of 1 to {limit} characters").format(limit=MAX_TEXT), request_id)
        elif kind == TIME:
            parse_time(value, field, request_id)
        elif kind == ID and (len(value) > MAX_ID or value in (".", "..")
                             or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)):
            raise wrong(field, _("it cannot be an id (control characters, '.' or '..', or over {limit} characters)")
                        .format(limit=MAX_ID), request_id)
        elif kind == LINK and not (len(value) <= MAX_LINK and _LINK.fullmatch(value) and link_host(value)):
            raise wrong(field, _("it is not one https:// link to a named host (no spaces, user name, backslash, "
                                 "IP address or xn-- look-alike name)"), request_id)


def link_host(link: str) -> str | None:
    """The host a link opens, or None when it could mislead whoever reads it: a user name before
    the host (`https://pay.weixin.qq.com@evil.example/`), a backslash (browsers read it as a
    slash), an IP address, a punycode (xn--) label that may render as a look-alike, or no named
    host at all (`https:///`, `https://./`, an empty label)."""
    import ipaddress
    from urllib.parse import urlsplit

    if "\\" in link:
        return None
    try:
        parts = urlsplit(link)
        host = parts.hostname
    except ValueError:
        return None
    if not host or "@" in parts.netloc or "%" in parts.netloc or parts.netloc.startswith("["):
        return None  # %: a browser decodes it into another name (often punycode) than the one shown
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    labels = host.lower().rstrip(".").split(".")  # one trailing dot is the fully qualified form
    if not all(labels):  # ".", "...", "pay..example.com": no named host
        return None
    last = labels[-1]
    if last.isdigit() or last.startswith("0x"):  # 2130706433, 0x7f.1, 127.1: addresses to a browser
        return None
    if not host.isascii() or any(label.startswith("xn--") for label in labels):
        return None
    return host


def parse_time(value: str, field: str, request_id: str | None = None) -> datetime:
    """An RFC 3339 time with its offset, between 2000 and 2100."""
    if not _RFC3339.fullmatch(value):
        raise wrong(field, _("it is not an RFC 3339 time with an offset"), request_id)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise wrong(field, _("it is not an RFC 3339 time with an offset"), request_id) from None
    if not EARLIEST <= moment < LATEST:
        raise wrong(field, _("it is not between 2000 and 2100"), request_id)
    return moment


def wrong(field: str, why: str, request_id: str | None) -> VerificationError:
    return VerificationError(
        _("WeChat's answer has a wrong {field}: {why}; nothing from it was used").format(field=field, why=why),
        request_id=request_id,
    )
