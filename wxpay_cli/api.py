"""One small function per K12 face-payment endpoint (see offlineface-api.md).

Each takes a `Client`, sends one signed request, and returns the verified
answer after checking it has the fields the API documents; an answer that
lacks them is refused like an unverified one (exit 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from wxpay_cli.client import Client, Response
from wxpay_cli.errors import VerificationError


@dataclass(frozen=True)
class Answer:
    """A verified API object with the HTTP facts the audit log records."""

    data: dict
    http_status: int
    request_id: str | None


def _answer(response: Response) -> Answer:
    return Answer(response.data or {}, response.status, response.request_id)


def segment(value: str) -> str:
    """One path segment, percent-encoded so a stray `/` or `?` cannot change the path."""
    return quote(value, safe="")


def parse_time(value: object, field: str, request_id: str | None = None) -> datetime:
    """An RFC 3339 time from WeChat, with its offset."""
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise VerificationError(f"WeChat's {field} {value!r} is not an RFC 3339 time", request_id=request_id) from None
    if parsed.tzinfo is None:
        raise VerificationError(f"WeChat's {field} {value!r} has no time zone", request_id=request_id)
    return parsed


def _require(response: Response, fields: tuple[str, ...]) -> dict:
    data = response.data or {}
    for name in fields:
        if not isinstance(data.get(name), str) or not data[name]:
            raise VerificationError(
                f"WeChat's answer has no {name}; nothing from it was used", request_id=response.request_id
            )
    return data


def repayment_url(client: Client, *, out_user_id: str, organization_id: str) -> Answer:
    """POST /v3/offlineface/repayment-url: the pupil's repayment link and its expiry."""
    response = client.request(
        "POST",
        "/v3/offlineface/repayment-url",
        json_body={"out_user_id": out_user_id, "organization_id": organization_id},
    )
    data = _require(response, ("repayment_url", "expire_at"))
    if not data["repayment_url"].startswith(("https://", "http://")):
        raise VerificationError("WeChat's repayment_url is not a web link; nothing from it was used")
    parse_time(data["expire_at"], "expire_at", response.request_id)
    return _answer(response)
