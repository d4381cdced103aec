"""One small function per K12 face-payment endpoint (WeChat Pay's service-provider API for K12 刷脸支付).

Each returns a `Call`: what to send, and how to check and read the verified
answer. The same Call runs on the one-at-a-time `Client` (`client.call(...)`)
and on the batch `AsyncClient` (`await client.call(...)`). An answer that lacks
the fields the API documents, or of another shape than `shapes.py` declares,
or about another pupil or contract than the one asked for, is refused like an
unverified one (exit 5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from wxpay_cli.errors import InputError
from wxpay_cli.i18n import _
from wxpay_cli.wire import shapes
from wxpay_cli.wire.signing import Signer

if TYPE_CHECKING:
    import httpx

CERTIFICATES_PATH = "/v3/certificates"


@dataclass
class Response:
    """A verified answer: status, headers, raw body and the parsed JSON (None when empty)."""

    status: int
    headers: httpx.Headers
    body: bytes
    data: dict | None

    @property
    def request_id(self) -> str | None:
        return self.headers.get("Request-ID")


@dataclass(frozen=True)
class Call:
    """One API call, described without sending it; the functions below build these.

    `parse` turns the verified `Response` into the endpoint's result; it gets
    the signer too, for fields encrypted with the merchant's key.
    """

    method: str
    path: str
    params: dict[str, str] | None = None
    json_body: object = None
    idempotent: bool = True
    parse: Callable[[Response, Signer], object] | None = None


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
    return typed_problem(value)


def typed_problem(value: str) -> str | None:
    """Why `value`, as a person typed or pasted it, is not the id they mean, or None: a
    full-width character (what a Chinese input method types: `２０２４` is not `2024` to
    WeChat), a space inside, or an invisible character. Positions count from 1."""
    if value.isascii() and value.isprintable() and " " not in value:
        return None  # the common case, at little cost
    import unicodedata

    for position, char in enumerate(value, start=1):
        if char.isspace():
            return _("character {position} is a space: an id has none (use half-width characters, "
                     "without spaces)").format(position=position)
        if unicodedata.east_asian_width(char) == "F":
            meant = "".join(unicodedata.normalize("NFKC", c) if unicodedata.east_asian_width(c) == "F" else c
                            for c in value)
            if meant.isascii() and meant.isprintable() and " " not in meant:
                return _("character {position} ({char}) is full-width: use half-width characters ({meant})").format(
                    position=position, char=char, meant=meant)
            return _("character {position} ({char}) is full-width: use half-width characters").format(
                position=position, char=char)
        if unicodedata.category(char) in ("Cc", "Cf"):
            return _("character {position} is invisible (U+{code:04X}): delete it").format(
                position=position, code=ord(char))
    return None


def segment(value: str) -> str:
    """One path segment, percent-encoded so a stray `/` or `?` cannot change the path."""
    problem = check_id(value)
    if problem:
        raise InputError(_("{value!r} cannot be an id: {problem}").format(value=value[:40], problem=problem))
    return quote(value, safe="")


def answer(response: Response, signer: Signer | None = None) -> Answer:
    """The default reading of a verified answer: its JSON object as it came."""
    return Answer(dict(response.data or {}), response.status, response.request_id)


def checked(shape: dict, asked: dict[str, str] | None = None, then=answer):
    """A `parse` that checks the answer's shape and ids (shapes.check), then reads it with `then`."""

    def parse(response: Response, signer: Signer) -> Answer:
        shapes.check(shape, response.data, response.request_id, asked)
        return then(response, signer)

    return parse


# -- 1. repayment link ----------------------------------------------------------


def repayment_url(*, out_user_id: str, organization_id: str) -> Call:
    """POST /v3/offlineface/repayment-url: the pupil's repayment link and its expiry."""
    return Call(
        "POST",
        "/v3/offlineface/repayment-url",
        json_body={"out_user_id": out_user_id, "organization_id": organization_id},
        parse=checked(shapes.REPAYMENT_URL),
    )


# -- 2. user query --------------------------------------------------------------


def get_user(*, organization_id: str, out_user_id: str) -> Call:
    """GET the user query: WeChat's view of a pupil, `user_name` decrypted when it came encrypted.

    Some doc pages call the id `use_id`; it is read as `user_id`.
    """
    return Call(
        "GET",
        f"/v3/offlinefacemch/organizations/{segment(organization_id)}/users/out-user-id/{segment(out_user_id)}",
        parse=checked(shapes.USER, {"out_user_id": out_user_id, "organization_id": organization_id}, _read_user),
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
    return Call("GET", f"/v3/offlineface/contracts/{segment(contract_id)}", params=params,
                parse=checked(shapes.CONTRACT, {"contract_id": contract_id}))


# -- 5. organization query ---------------------------------------------------------

MAX_NAME_LENGTH = 128


def get_organization(*, organization_id: str | None = None, organization_name: str | None = None) -> Call:
    """GET /v3/offlinefacemch/organizations by id or by the school's name (exactly one).

    The answer must be about the school asked for: the id asked, or the name asked.
    """
    if (organization_id is None) == (organization_name is None):
        raise InputError(_("ask for an organization by its id or by its name, not both"))
    if organization_id is not None:
        asked = {"organization_id": organization_id}
    else:
        asked = {"organization_name": organization_name}
    return Call("GET", "/v3/offlinefacemch/organizations", params=asked,
                parse=checked(shapes.ORGANIZATION, asked, _read_organization))


def _read_organization(response: Response, signer: Signer) -> Answer:
    """Only the two declared fields, checked by `checked(shapes.ORGANIZATION, ...)` first."""
    data = response.data or {}
    return Answer({"organization_id": data["organization_id"], "organization_name": data["organization_name"]},
                  response.status, response.request_id)


# -- anything else --------------------------------------------------------------


def list_certificates() -> Call:
    """GET /v3/certificates: the platform certificates, encrypted with the APIv3 key. Send it with
    `client.unverified`: the answer is verified with the certificates it holds, once decrypted
    (flows/certificates.py)."""
    return Call("GET", CERTIFICATES_PATH)


def raw_request(method: str, path: str, body: object = None) -> Call:
    """Any APIv3 call (the `wxpay request` escape hatch): signed, verified, retried only if GET."""
    return Call(method, path, json_body=body, idempotent=method == "GET", parse=answer)
