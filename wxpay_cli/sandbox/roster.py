"""Pupils for the sandbox: the demo roster, and rosters loaded from a CSV file.

The demo roster is large enough to rehearse a batch: `demo-org` (演示实验小学)
holds the README's `demo`, `demo-2` and `demo-terminated` plus 300 pupils
`20230001`…`20230300` of mixed contract states, and `demo-unanswered`
(赵小雨, CONTRACTED), whose termination the sandbox receives but never answers
(it takes effect a few seconds later: the outcome is `unknown` until queried
again); a second organization `1234567` (南山中兴小学部) holds 60 pupils
`20240101`…`20240160`. The roster is the same at every start (a fixed seed),
so a script can name its pupils.

`load_csv` reads `out_user_id,organization_id,name,class,contract_state`
and an optional `termination` column (UTF-8, with or without a BOM; `name`,
`class` and `contract_state` may be empty). `termination` is empty (answered
as usual) or `unanswered` (like `demo-unanswered`); any other value refuses
the file, naming its line.
"""

from __future__ import annotations

import csv
import functools
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from wxpay_cli.i18n import _

if TYPE_CHECKING:
    from wxpay_cli.sandbox.server import Sandbox

DEMO_ORGANIZATIONS = {"demo-org": "演示实验小学", "1234567": "南山中兴小学部"}
CONTRACT_STATES = ("NOT_CONTRACTED", "CONTRACTED", "TERMINATED")
CSV_COLUMNS = ("out_user_id", "organization_id", "name", "class", "contract_state")  # and `termination`, optional
TERMINATION_MARKS = ("", "unanswered")  # the `termination` column: answered as usual, or never answered

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = "子涵梓萱一诺浩然欣怡宇轩思彤俊杰雨桐梓轩可馨皓轩语嫣博文诗琪明轩若曦嘉怡天佑佳琪晨曦家豪心怡"
_GRADES = "一二三四五六"
_CLASSES = "一二三四"


def _name(rng: random.Random) -> str:
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(_SURNAMES) + given


def _state(rng: random.Random) -> str:
    roll = rng.random()
    return "CONTRACTED" if roll < 0.8 else "NOT_CONTRACTED" if roll < 0.92 else "TERMINATED"


def _days_ago(rng: random.Random, low: int, high: int) -> str:
    from wxpay_cli.sandbox.server import CHINA

    moment = datetime.now(CHINA).replace(microsecond=0) - timedelta(days=rng.randint(low, high), minutes=rng.randint(0, 1439))
    return moment.isoformat()


def _terminated_time(rng: random.Random) -> str:
    return _days_ago(rng, 1, 200)


def seed_demo_roster(sandbox: Sandbox) -> None:
    """The README's demo pupils and the two demo organizations' rosters."""
    for organization_id, name in DEMO_ORGANIZATIONS.items():
        sandbox.seed_organization(organization_id, name)
    for organization_id, out_user_id, fields in _demo_roster():
        sandbox.seed_user(organization_id, out_user_id, **fields)


@functools.cache
def _demo_roster() -> tuple[tuple[str, str, dict], ...]:
    # Built once per process: every test's sandbox seeds it, and uuid4 for 360 pupils is not free.
    rng = random.Random(20261127)

    def ids(n: int) -> dict:
        token = f"{rng.getrandbits(128):032x}"
        return {"user_id": f"wxu_{token[:20]}", "contract_id": f"ct_{token[8:32]}", "openid": f"o_{token[:26]}"}

    rows = [
        ("demo-org", "demo", {"user_name": "张小明", "class_name": "三年级二班"}),
        ("demo-org", "demo-2", {"user_name": "李小红", "class_name": "五年级一班", "encrypt_name": False}),
        ("demo-org", "demo-terminated", {"user_name": "王小刚", "class_name": "四年级三班",
                                         "contract_state": "TERMINATED", "contract_terminated_time": _terminated_time(rng)}),
    ]
    for organization_id, prefix, count, first in (("demo-org", "2023", 300, 1), ("1234567", "2024", 60, 101)):
        for number in range(first, first + count):
            state = _state(rng)
            rows.append((organization_id, f"{prefix}{number:04d}", {
                "user_name": _name(rng),
                "class_name": f"{rng.choice(_GRADES)}年级{rng.choice(_CLASSES)}班",
                "contract_state": state,
                "contract_terminated_time": _terminated_time(rng) if state == "TERMINATED" else None,
                "encrypt_name": rng.random() < 0.5,
            }))
    # Last, and drawing nothing from rng: every other pupil keeps the ids it had before this one came.
    rows.append(("demo-org", "demo-unanswered", {"user_name": "赵小雨", "class_name": "二年级一班",
                                                 "termination_unanswered": True}))
    signed = _days_ago(rng, 201, 400)  # one signing day for the whole roster, before any termination
    return tuple((org, out, {**ids(0), "contract_signed_time": signed, **fields}) for org, out, fields in rows)


class RosterError(ValueError):
    """A roster file that cannot be used; the message names the line."""


def load_csv(sandbox: Sandbox, path: Path) -> int:
    """Seed the pupils listed in `path`; returns how many. RosterError on a bad file."""
    rng = random.Random()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(_("{path}: cannot read the roster ({reason})").format(path=path, reason=exc)) from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ("out_user_id", "organization_id") if c not in header]
    if missing:
        raise RosterError(_("{path}: the header must hold {expected} (found: {found})").format(
            path=path, expected=",".join(CSV_COLUMNS), found=",".join(header) or "-"))
    count = 0
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if isinstance(v, str)}
        if not row.get("out_user_id") or not row.get("organization_id"):
            raise RosterError(_("{path}, line {line}: out_user_id and organization_id are required").format(
                path=path, line=line))
        state = (row.get("contract_state") or "CONTRACTED").upper()
        if state not in CONTRACT_STATES:
            raise RosterError(_("{path}, line {line}: contract_state must be one of {states}").format(
                path=path, line=line, states=", ".join(CONTRACT_STATES)))
        mark = (row.get("termination") or "").lower()
        if mark not in TERMINATION_MARKS:
            raise RosterError(_("{path}, line {line}: termination must be empty or unanswered (found: {value})").format(
                path=path, line=line, value=row["termination"][:40]))
        organization_id = row["organization_id"]
        if organization_id not in sandbox.state.organizations:
            sandbox.seed_organization(organization_id, organization_id)
        sandbox.seed_user(
            organization_id, row["out_user_id"],
            user_name=row.get("name") or row["out_user_id"],
            class_name=row.get("class") or "",
            contract_state=state,
            contract_terminated_time=_terminated_time(rng) if state == "TERMINATED" else None,
            termination_unanswered=mark == "unanswered",
        )
        count += 1
    return count
