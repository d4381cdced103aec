"""`wxpay audit`: read the audit log of links fetched and terminations."""

from __future__ import annotations

from datetime import datetime

import click

from wxpay_cli.app import App
from wxpay_cli.commands._options import non_blank, output_options
from wxpay_cli.output import View
from wxpay_cli.i18n import _

COLUMNS = [
    ("time", "Time"),
    ("profile", "Profile"),
    ("operation", "Operation"),
    ("outcome", "Outcome"),
    ("organization_id", "Organization"),
    ("out_user_id", "Pupil"),
    ("user_id", "user_id"),
    ("http_status", "HTTP"),
    ("request_id", "Request-ID"),
]


def parse_since(ctx, param, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(_("use a date or time like 2026-11-26 or 2026-11-26T08:00")) from None
    return moment if moment.tzinfo else moment.astimezone()


@click.command("audit")
@click.option("--user", "out_user_id", metavar="OUT_USER_ID", callback=non_blank, help="Only this pupil (out_user_id or user_id).")
@click.option("--since", callback=parse_since, metavar="DATE", help="Only records at or after DATE (ISO 8601, local time).")
@output_options
@click.pass_obj
def audit(app: App, out_user_id: str | None, since: datetime | None) -> None:
    """Show the audit log: every repayment link fetched and every termination step.

    The log is $XDG_STATE_HOME/wxpay/audit.jsonl (default ~/.local/state/wxpay/).
    With --json, prints its records as JSON lines.
    """
    log = app.audit()
    records = []
    for record in log.records():
        if out_user_id and out_user_id not in (record.get("out_user_id"), record.get("user_id")):
            continue
        if since and not _at_or_after(record.get("time"), since):
            continue
        records.append(record)
    rows = [tuple(record.get(key) for key, _ in COLUMNS) for record in records]
    app.render(View(data=records, rows=rows, columns=tuple(heading for _, heading in COLUMNS),
                    title=_("Audit log {path}").format(path=log.path), json_lines=True))


def _at_or_after(value: object, since: datetime) -> bool:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return (moment if moment.tzinfo else moment.astimezone()) >= since
