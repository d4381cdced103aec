"""`wxpay audit`: read the audit log of links fetched and terminations, newest first."""

from __future__ import annotations

from collections import deque
from datetime import datetime

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import Command, IntRange
from wxpay_cli.commands._options import (
    non_blank,
    one_of,
    output_file,
    output_file_option,
    output_options,
    parse_moment,
    say_written,
)
from wxpay_cli.i18n import N_, _
from wxpay_cli.terminal import output
from wxpay_cli.terminal.output import Column, View

DEFAULT_TERMINAL_LIMIT = 50

# (record key, heading, width in cells, keep): the table drops the lowest `keep`
# first, so 80 columns show who did what to whom and when, 160 add the rest.
COLUMNS = [
    ("time", N_("Time"), 11, 100),
    ("operator", N_("Operator"), 8, 90),
    ("operation", N_("Operation"), 9, 95),
    ("outcome", N_("Outcome"), 9, 95),
    ("organization_id", N_("Org"), 10, 80),
    ("pupil", N_("Pupil"), 12, 85),
    ("http_status", N_("HTTP"), 4, 50),
    ("profile", N_("Profile"), 10, 40),
    ("host", N_("Host"), 14, 35),
    ("request_id", N_("Request-ID"), 36, 30),
    ("error", N_("Error"), 16, 20),
    ("contract_id", N_("Contract"), 14, 10),
]
OPERATIONS = {"repayment_url": N_("link"), "terminate": N_("terminate"),
              # the operator's word that a link was forwarded; a read-only check (`wxpay cases --refresh`)
              "forward": N_("forward"), "observe": N_("observe")}
# The outcome in words on a terminal (the filter and JSON keep the recorded value).
OUTCOMES = {"fetched": N_("fetched"), "failed": N_("failed"), "succeeded": N_("succeeded"),
            "refused": N_("refused"), "unknown": N_("unknown"), "attempted": N_("attempted"),
            "dry_run": N_("dry run"), "not_sent": N_("not sent"), "declined": N_("declined"),
            "checked": N_("checked"), "already_terminated": N_("already terminated"),
            "confirmed": N_("confirmed"), "observed": N_("observed")}


# The sentences wxpay writes into a record's `error` beside a code (flows/termination.py).
RECORDED_PHRASES = {"confirmed by a later query": N_("confirmed by a later query"),
                    "confirmed by re-query after": N_("confirmed by re-query after")}


@click.command("audit", cls=Command)
@click.option("--user", "out_user_id", metavar="PUPIL", callback=non_blank,
              help="Only this pupil (out_user_id or user_id).")
@click.option("--org", "organization_id", metavar="ORGANIZATION_ID", callback=non_blank,
              help="Only this organization.")
@click.option("--operation", metavar="NAME", callback=one_of(OPERATIONS),
              help="Only this operation: `repayment_url` (link) or `terminate`, as recorded or as the table "
                   "shows it, in either language.")
@click.option("--outcome", metavar="NAME", callback=one_of(OUTCOMES),
              help="Only this outcome, e.g. `fetched`, `failed`, `succeeded`, `refused`, `declined`, `not_sent`, "
                   "or the word the table shows for it (被拒绝), in either language.")
@click.option("--since", callback=parse_moment, metavar="DATE",
              help="Only records at or after DATE (ISO 8601; local time unless it has an offset).")
@click.option("--until", callback=parse_moment, metavar="DATE",
              help="Only records at or before DATE (a bare date takes the whole day).")
@click.option("--limit", type=IntRange(min=1), metavar="N",
              help="Only the newest N records (default on a terminal: 50; in a pipe or a file: all).")
@output_options
@output_file_option
@click.pass_obj
def audit(app: App, out_user_id: str | None, organization_id: str | None, operation: str | None,
          outcome: str | None, since: datetime | None, until: datetime | None, limit: int | None) -> None:
    """Show the audit log, newest first: who fetched which link and terminated which contract.

    The log is $XDG_STATE_HOME/wxpay/audit.jsonl (default ~/.local/state/wxpay/).
    On a terminal a table, one line per record, cut to the terminal's width;
    with --json (or in a pipe) the full records as JSON lines; --format csv or
    xlsx (with -o FILE) for Excel, one column per field.
    """
    if since and until and since > until:
        raise click.UsageError(_("--since is after --until: no record could match"))
    default_limit = limit is None and output.stdout_is_terminal() and app.output_path is None
    if default_limit:
        limit = DEFAULT_TERMINAL_LIMIT
    log = app.audit()
    newest: deque[dict] = deque(maxlen=limit)
    matched = 0
    for record in log.records():
        if matches(record, out_user_id, organization_id, operation, outcome, since, until):
            newest.append(record)
            matched += 1
    records = list(reversed(newest))
    if log.unreadable:
        lines = ", ".join(str(number) for number in log.unreadable[:20])
        more = len(log.unreadable) - 20
        output.warn(_("{count} unreadable lines in {path} (damaged or cut short), not shown: line {lines}{more}").format(
            count=len(log.unreadable), path=log.path, lines=lines,
            more=_(" and {n} more").format(n=more) if more > 0 else ""))
    if not records and app.format == "table":
        output.info(_("no audit records match"))
    if default_limit and matched > len(records):
        output.info(_("showing the newest {shown} of {total} records; --limit N shows more")
                    .format(shown=len(records), total=matched))
    if app.output_path is not None or app.format in ("csv", "xlsx"):
        write_records(app, records)
        return
    app.render(audit_view(records, str(log.path)))


def write_records(app: App, records: list[dict]) -> None:
    """The records as JSON lines, CSV or a workbook (one column per field), to stdout or -o FILE."""
    from wxpay_cli.local.audit import FIELDS

    writer = output.records_writer(app.format, output_file(app), input_columns=lambda: list(FIELDS),
                                   title=_("audit log"))
    try:
        for record in records:
            writer.write(record)
    except OSError:
        writer.abandon()
        raise
    writer.finish()
    say_written(app)


def matches(record: dict, out_user_id, organization_id, operation, outcome, since, until) -> bool:
    if out_user_id and out_user_id not in (record.get("out_user_id"), record.get("user_id")):
        return False
    if organization_id and record.get("organization_id") != organization_id:
        return False
    if operation and str(record.get("operation")).lower() != operation:
        return False
    if outcome and str(record.get("outcome")).lower() != outcome:
        return False
    if since or until:
        from wxpay_cli.terminal import times

        moment = times.parse(record.get("time"))
        if moment is None or (since and moment < since) or (until and moment > until):
            return False
    return True


def audit_view(records: list[dict], path: str) -> View:
    from wxpay_cli.sanitise import for_terminal
    from wxpay_cli.terminal import times

    offset = times.offset_label(record.get("time") for record in records)

    def cell(record: dict, key: str) -> str:
        if key == "time":
            moment = times.parse(record.get("time"))
            text = times.short(record.get("time"))
            # Without one offset for the whole table, each time carries its own.
            return for_terminal(text if offset or moment is None else text + times.offset(moment.astimezone()))
        if key == "pupil":
            value = record.get("out_user_id") or record.get("user_id")
        elif key == "operation":
            value = record.get("operation")
            value = _(OPERATIONS[value]) if value in OPERATIONS else value
        elif key == "outcome":
            value = record.get("outcome")
            value = _(OUTCOMES[value]) if value in OUTCOMES else value
        elif key == "error" and isinstance(record.get("error"), str):
            value = record["error"]
            for phrase, words in RECORDED_PHRASES.items():  # the log's English, in the reader's words
                value = value.replace(phrase, _(words))
        else:
            value = record.get(key)
        return for_terminal("" if value is None else value)

    columns = tuple(Column(f"{_(heading)} {offset}" if key == "time" and offset else _(heading),
                           width + (7 if key == "time" and not offset else 0), keep)
                    for key, heading, width, keep in COLUMNS)
    rows = [tuple(cell(record, key) for key, *_rest in COLUMNS) for record in records]
    return View(data=records, rows=rows, columns=columns, json_lines=True,
                title=_("Audit log {path} (newest first)").format(path=for_terminal(path)))
