"""Helpers shared by the batch tests: pupils in the sandbox, batch input as CSV text, batch
output as records."""

from __future__ import annotations

import json


def lines(text: str) -> list[dict]:
    """The JSON lines of a batch's stdout, as records."""
    return [json.loads(line) for line in text.splitlines()]


def csv_rows(users, org="demo-org", header="out_user_id,organization_id") -> str:
    """A CSV batch input naming `users` of `org`."""
    return header + "\n" + "".join(f"{u},{org}\n" for u in users)


def seed_pupils(sandbox, count: int, **fields) -> list[str]:
    """`count` pupils p00, p01, … of demo-org in `sandbox`, named P00, P01, … in clear text."""
    names = [f"p{i:02d}" for i in range(count)]
    for name in names:
        sandbox.seed_user("demo-org", name, user_name=name.upper(), encrypt_name=False, **fields)
    return names
