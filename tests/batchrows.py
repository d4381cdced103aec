"""Helpers shared by the batch tests: batch input as CSV text, batch output as records."""

from __future__ import annotations

import json


def lines(text: str) -> list[dict]:
    """The JSON lines of a batch's stdout, as records."""
    return [json.loads(line) for line in text.splitlines()]


def csv_rows(users, org="demo-org", header="out_user_id,organization_id") -> str:
    """A CSV batch input naming `users` of `org`."""
    return header + "\n" + "".join(f"{u},{org}\n" for u in users)
