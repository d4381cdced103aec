"""One small function per K12 face-payment endpoint (see offlineface-api.md).

Each returns a `Call`: what to send, and how to check and read the verified
answer. The same Call runs on the one-at-a-time `Client` (`client.call(...)`)
and on the batch `AsyncClient` (`await client.call(...)`). An answer that lacks
the fields the API documents is refused like an unverified one (exit 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from wxpay_cli.client import Call, Response
from wxpay_cli.errors import InputError, VerificationError
from wxpay_cli.i18n import _
from wxpay_cli.signing import Signer


@dataclass(frozen=True)
class Answer:
    """A verified API object with the HTTP facts the audit log records."""

    data: dict
    http_status: int
    request_id: str | None


MAX_ID_LENGTH = 256


def check_id(value: str) -> str | None:
    """Why `value` cannot be an id in a request path, or None when it can."""
    if value in ("", ".", ".."):
        return _("it would change the request path")
    if len(value) > MAX_ID_LENGTH:
        return _("it is longer than {MAX_ID_LENGTH} characters").format(MAX_ID_LENGTH=MAX_ID_LENGTH)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return _("it holds control characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        # Bytes that were not UTF-8 (in argv, Python keeps them as lone surrogates).
        return _("it is not valid text (bytes that are not UTF-8)")
    return None


def segment(value: str) -> str:
    """One path segment, percent-encoded so a stray `/` or `?` cannot change the path."""
    problem = check_id(value)
    if problem:
        raise InputError(_("{value!r} cannot be an id: {problem}").format(value=value[:40], problem=problem))
    return quote(value, safe="")


def parse_time(value: object, field: str, request_id: str | None = None) -> datetime:
    """An RFC 3339 time from WeChat, with its offset."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise VerificationError(_("WeChat's {field} {value!r} is not an RFC 3339 time").format(field=field, value=value), request_id=request_id) from None
    if parsed.tzinfo is None:
        raise VerificationError(_("WeChat's {field} {value!r} has no time zone").format(field=field, value=value), request_id=request_id)
    return parsed


def answer(response: Response, signer: Signer | None = None) -> Answer:
    """The default reading of a verified answer: its JSON object as it came."""
    return Answer(dict(response.data or {}), response.status, response.request_id)


# -- 1. repayment link ----------------------------------------------------------


def repayment_url(*, out_user_id: str, organization_id: str) -> Call:
    """POST /v3/offlineface/repayment-url: the pupil's repayment link and its expiry."""
    return Call(
        "POST",
        "/v3/offlineface/repayment-url",
        json_body={"out_user_id": out_user_id, "organization_id": organization_id},
        parse=_read_repayment_url,
    )


def _read_repayment_url(response: Response, signer: Signer) -> Answer:
    data = response.data or {}
    for name in ("repayment_url", "expire_at"):
        if not isinstance(data.get(name), str) or not data[name]:
            raise VerificationError(_("WeChat's answer has no {name}; nothing from it was used").format(name=name),
                                    request_id=response.request_id)
    if not data["repayment_url"].startswith(("https://", "http://")):
        raise VerificationError(_("WeChat's repayment_url is not a web link; nothing from it was used"),
                                request_id=response.request_id)
    parse_time(data["expire_at"], "expire_at", response.request_id)
    return answer(response)


# -- 2. user query --------------------------------------------------------------


def get_user(*, organization_id: str, out_user_id: str) -> Call:
    """GET the user query: WeChat's view of a pupil, `user_name` decrypted when it came encrypted.

    Some doc pages call the id `use_id`; it is read as `user_id`.
    """
    return Call(
        "GET",
        f"/v3/offlinefacemch/organizations/{segment(organization_id)}/users/out-user-id/{segment(out_user_id)}",
        parse=_read_user,
    )


def _read_user(response: Response, signer: Signer) -> Answer:
    data = dict(response.data or {})
    if not data.get("user_id") and data.get("use_id"):
        data["user_id"] = data["use_id"]
    if isinstance(data.get("user_name"), str) and looks_encrypted(data["user_name"]):
        try:
            data["user_name"] = signer.decrypt(data["user_name"])
        except ValueError:
            pass  # not encrypted for our key after all: show it as it came
    return Answer(data, response.status, response.request_id)


def looks_encrypted(value: str) -> bool:
    """RSA-2048 ciphertext in base64 is 344 characters of [A-Za-z0-9+/=]; a name is not."""
    return len(value) >= 172 and len(value) % 4 == 0 and all(c.isascii() and (c.isalnum() or c in "+/=") for c in value)


# -- 3. termination (解约) --------------------------------------------------------


def terminate_path(organization_id: str, user_id: str) -> str:
    return (
        f"/v3/offlinefacemch/organizations/{segment(organization_id)}"
        f"/users/user-id/{segment(user_id)}/terminate-contract"
    )


def terminate_contract(*, organization_id: str, user_id: str) -> Call:
    """POST terminate-contract with an empty signed body; 204 (any verified 2xx) is success.

    Not idempotent: never retried blindly. A timeout is raised for the caller
    to re-query the state (see termination.py).
    """
    return Call("POST", terminate_path(organization_id, user_id), idempotent=False, parse=answer)


# -- 4. contract query ----------------------------------------------------------


def get_contract(*, contract_id: str, appid: str | None = None) -> Call:
    """GET the contract query."""
    params = {"appid": appid} if appid else None
    return Call("GET", f"/v3/offlineface/contracts/{segment(contract_id)}", params=params, parse=answer)


# -- 5. organization query ---------------------------------------------------------

MAX_NAME_LENGTH = 128


def get_organization(*, organization_id: str | None = None, organization_name: str | None = None) -> Call:
    """GET /v3/offlinefacemch/organizations by id or by the school's name (exactly one).

    The answer must be about the school asked for: the id asked, or the name asked.
    """
    if (organization_id is None) == (organization_name is None):
        raise InputError(_("ask for an organization by its id or by its name, not both"))
    if organization_id is not None:
        return Call("GET", "/v3/offlinefacemch/organizations", params={"organization_id": organization_id},
                    parse=lambda response, signer: _read_organization(response, organization_id=organization_id))
    return Call("GET", "/v3/offlinefacemch/organizations", params={"organization_name": organization_name},
                parse=lambda response, signer: _read_organization(response, organization_name=organization_name))


def _read_organization(response: Response, **asked: str) -> Answer:
    data = response.data if isinstance(response.data, dict) else {}
    for name in ("organization_id", "organization_name"):
        value = data.get(name)
        if not isinstance(value, str) or not value or len(value) > MAX_NAME_LENGTH:
            raise VerificationError(_("WeChat's answer has no usable {field}; nothing from it was used")
                                    .format(field=name), request_id=response.request_id)
    for name, value in asked.items():
        if data[name] != value:
            raise VerificationError(
                _("WeChat answered about another organization ({field} is not the one asked for); "
                  "nothing from it was used").format(field=name),
                request_id=response.request_id)
    return Answer({"organization_id": data["organization_id"], "organization_name": data["organization_name"]},
                  response.status, response.request_id)


# -- anything else --------------------------------------------------------------


def raw_request(method: str, path: str, body: object = None) -> Call:
    """Any APIv3 call (the `wxpay request` escape hatch): signed, verified, retried only if GET."""
    return Call(method, path, json_body=body, idempotent=method == "GET", parse=answer)
