"""`wxpay cases` (跟进): every pupil's handover as an open case, and the next step for each."""

from __future__ import annotations

from datetime import datetime

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import FloatRange, Group, IntRange
from wxpay_cli.commands._options import (
    finite_rate,
    non_blank,
    one_of,
    org_option,
    output_file,
    output_file_option,
    output_options,
    parse_moment,
    say_written,
    user_option,
)
from wxpay_cli.i18n import N_, _, ngettext
from wxpay_cli.terminal import output
from wxpay_cli.terminal.output import View

# A stage as a table shows it (JSON, CSV and the filter keep the stable value).
STAGE_WORDS = {
    "link_fetched": N_("link fetched"),
    "link_expired": N_("link expired"),
    "forwarded": N_("link forwarded"),
    "unknown": N_("outcome unknown"),
    "terminated": N_("terminated, to sign again"),
    "resigned": N_("signed again"),
    "refused": N_("was refused"),
}
# What the export and JSON hold for each case, in this order (expire_at, contract_id, reason: in JSON only when known).
FIELDS = ("organization_id", "out_user_id", "user_id", "user_name", "class_name", "stage", "since", "operator",
          "next_step", "expire_at", "contract_id", "reason")
WHEN_KNOWN = ("expire_at", "contract_id", "reason")


@click.group("cases", cls=Group, invoke_without_command=True,
             # Named here so every click in range prints the same usage line (8.4 wrote
             # "COMMAND", 8.5 "[COMMAND]" for a group that runs without one).
             subcommand_metavar="[COMMAND] [ARGS]...")
@click.option("--org", "organization_id", metavar="ORGANIZATION_ID", callback=non_blank,
              help="Only this organization's cases.")
@click.option("--user", "pupil", metavar="PUPIL", callback=non_blank,
              help="Only this pupil (out_user_id or user_id).")
@click.option("--stage", metavar="STAGE", callback=one_of(STAGE_WORDS),
              help="Only cases at this stage: link_fetched, link_expired, forwarded, unknown, terminated, "
                   "resigned, refused, or the word the table shows for it, in either language (结果不明).")
@click.option("--since", callback=parse_moment, metavar="DATE",
              help="Only cases that reached their stage at or after DATE (ISO 8601; local time unless it has "
                   "an offset).")
@click.option("--operator", metavar="NAME", help="Only cases whose stage this operator brought about.")
@click.option("--open", "open_only", is_flag=True, help="Only open cases: every stage but resigned.")
@click.option("--refresh", is_flag=True,
              help="First bring each open case up to date with a read-only user query (recorded in the audit "
                   "log as an observation): unknown outcomes become known, a pupil signed again under a new "
                   "contract is closed. Nothing is changed at WeChat.")
@click.option("--concurrency", type=IntRange(1, 256), default=8, show_default=True, metavar="N",
              help="With --refresh: pupils queried at once.")
@click.option("--rate", type=FloatRange(min=0.1), metavar="R", callback=finite_rate,
              help="With --refresh: at most R queries per second.")
@output_options
@output_file_option
@click.pass_context
def cases_group(ctx: click.Context, organization_id: str | None, pupil: str | None, stage: str | None,
                since: datetime | None, operator: str | None, open_only: bool, refresh: bool, concurrency: int,
                rate: float | None) -> None:
    """List every pupil's case, newest activity first, with the next step for each.

    A case is a pupil of this profile's merchant that appears in the audit
    log: its stage (link fetched, link expired, link forwarded, outcome
    unknown, terminated and waiting for the family to sign again, signed again,
    refused), since when, who acted, and what to do next. Read from the audit
    log only (an index beside it keeps this quick); --refresh first asks WeChat
    about each open case. On a terminal a table; JSON lines in a pipe or with
    --json; --format csv or xlsx (with -o FILE) for Excel.

    `wxpay cases forwarded --user X --org Y` records that a pupil's link was forwarded.
    """
    if ctx.invoked_subcommand is not None:
        if any(value not in (None, False) for name, value in ctx.params.items()
               if name not in ("concurrency", "rate")):
            raise click.UsageError(_("the options of `wxpay cases` go with the listing, not with a subcommand"))
        return
    app: App = ctx.obj
    from wxpay_cli.flows import cases

    wanted = {"organization_id": organization_id, "stage": stage, "since": since, "operator": operator,
              "open_only": open_only, "pupil": pupil}
    log = app.audit()
    mchid = app.profile().mchid
    reading = cases.read(log)
    if refresh:
        chosen = [case for case in cases.select(cases.listed(reading.fold, mchid), **wanted) if case.open]
        refresh_cases(app, chosen, concurrency=concurrency, rate=rate, then=lambda: _list(app, log, mchid, wanted))
        return
    _list(app, log, mchid, wanted, reading)


def _list(app: App, log, mchid: str, wanted: dict, reading=None) -> None:
    from wxpay_cli.flows import cases

    reading = reading or cases.read(log)
    if reading.damaged_count:
        lines = ", ".join(str(number) for number in reading.damaged)
        more = reading.damaged_count - len(reading.damaged)
        output.warn(_("{count} unreadable lines in {path} (damaged or cut short), not shown: line {lines}{more}").format(
            count=reading.damaged_count, path=reading.path, lines=lines,
            more=_(" and {n} more").format(n=more) if more > 0 else ""))
    chosen = cases.select(cases.listed(reading.fold, mchid), **wanted)
    if not chosen and app.format == "table":
        output.info(_("no cases match") if any(value not in (None, False) for value in wanted.values())
                    else _("no cases yet: a case begins when a pupil's link is fetched"))
    records = [case_record(case) for case in chosen]
    if app.output_path is not None or app.format in ("csv", "xlsx"):
        from wxpay_cli.i18n import english_data

        writer = output.records_writer(app.format, output_file(app), input_columns=lambda: list(FIELDS),
                                       title=_("cases"))
        # JSON keeps the English; a sheet is for the operator, like a batch's error_message column.
        sheet = app.format in ("csv", "xlsx")
        try:
            for record in records:
                writer.write(record if sheet else english_data(record))
        except OSError:
            writer.abandon()
            raise
        writer.finish()
        say_written(app)
        return
    app.render(cases_view(chosen, records))


def next_step(case) -> str:
    """What to do next, in words (JSON keeps the English)."""
    from wxpay_cli.sanitise import for_terminal
    from wxpay_cli.terminal import times

    if case.stage == "link_fetched":
        if case.expire_at:
            return _("forward the link to the family before {expires}").format(expires=times.written(case.expire_at))
        return _("forward the link to the family (its expiry was not recorded)")
    if case.stage == "link_expired":
        return _("fetch a new link: this one expired unused")
    if case.stage == "forwarded":
        return _("terminate the contract when the family is ready")
    if case.stage == "unknown":
        return _("check it first: wxpay cases --refresh")
    if case.stage == "terminated":
        return _("wait for the family to sign again; --refresh checks")
    if case.stage == "resigned":
        return _("none: the case is closed")
    if case.reason == "STILL_CONTRACTED":
        return _("the termination did not happen (still contracted): terminate again when ready")
    return _("see why ({reason}) and put it right before trying again").format(
        reason=for_terminal(case.reason or "?"))


def case_record(case) -> dict:
    record = {"organization_id": case.organization_id, "out_user_id": case.out_user_id, "user_id": case.user_id,
              "user_name": case.user_name, "class_name": case.class_name, "stage": case.stage, "since": case.since,
              "operator": case.operator, "next_step": next_step(case)}
    for name in WHEN_KNOWN:
        if getattr(case, name) is not None:
            record[name] = getattr(case, name)
    return record


def cases_view(chosen: list, records: list[dict]) -> View:
    from wxpay_cli.sanitise import for_terminal
    from wxpay_cli.terminal import times

    offset = times.offset_label(case.since for case in chosen)

    def when(value) -> str:
        moment = times.parse(value)
        text = times.short(value)
        return for_terminal(text if offset or moment is None else text + times.offset(moment.astimezone()))

    rows = []
    for case, record in zip(chosen, records, strict=True):
        # Who, in one cell: the name and class (when known), then the id, so 80 columns leave room
        # for the stage and the next step; a cell wraps, nothing is cut.
        pupil = case.out_user_id or _("user_id {user_id}").format(user_id=case.user_id)
        known = " ".join(for_terminal(value) for value in (case.user_name, case.class_name) if value)
        rows.append((" ".join(filter(None, (known, for_terminal(pupil)))), for_terminal(case.organization_id),
                     _(STAGE_WORDS[case.stage]), when(case.since), for_terminal(case.operator or ""),
                     record["next_step"]))
    headings = (_("Pupil"), _("Org"), _("Stage"), f"{_('Since')} {offset}" if offset else _("Since"),
                _("Operator"), _("Next step"))
    return View(data=records, rows=rows, columns=headings, json_lines=True, wrap=True,
                title=ngettext("{count} case (newest activity first)", "{count} cases (newest activity first)",
                               len(chosen)).format(count=len(chosen)))


class _Collected:
    """The refresh's lines (one per pupil queried), kept to say which could not be checked."""

    def __init__(self) -> None:
        self.failed: list[dict] = []

    def write(self, record: dict) -> None:
        if isinstance(record.get("error"), dict):
            self.failed.append(record)


def refresh_cases(app: App, chosen: list, *, concurrency: int, rate: float | None, then) -> None:
    """One read-only user query per open case (those known only by user_id cannot be asked about),
    through the batch engine; each answer recorded as an observation; then `then()` lists the cases.
    Exit 1 when some could not be checked, as a batch with failed rows."""
    import time

    from wxpay_cli.errors import WxpayError
    from wxpay_cli.flows import batch, steps
    from wxpay_cli.flows.batch_input import Row
    from wxpay_cli.flows.cases import observe
    from wxpay_cli.sanitise import for_terminal

    by_user_id = [case for case in chosen if not case.out_user_id]
    if by_user_id:
        output.warn(ngettext(
            "{count} open case is known only by WeChat's user_id and cannot be queried (terminated with --user-id): "
            "{pupils}",
            "{count} open cases are known only by WeChat's user_id and cannot be queried (terminated with "
            "--user-id): {pupils}", len(by_user_id)).format(
            count=len(by_user_id), pupils=", ".join(for_terminal(case.user_id) for case in by_user_id[:10])
            + (" …" if len(by_user_id) > 10 else "")))
    asked = [case for case in chosen if case.out_user_id]
    if not asked:
        output.info(_("no open case to check"))
        then()
        return
    app.credentials()  # a configuration problem stops here, before anything is asked
    audit, profile = app.audit(), app.profile()
    rows = [Row(number=number, values={"organization_id": case.organization_id, "out_user_id": case.out_user_id})
            for number, case in enumerate(asked, start=1)]

    async def work(client, row) -> dict:
        try:
            return await steps.run_async(client, observe(asked[row.number - 1], audit, profile))
        finally:
            await audit.commit()  # the observation is on disk before the next listing reads it

    collected = _Collected()
    started = time.monotonic()
    with audit.held_open():
        summary = batch.run(rows, work, make_client=lambda: app.async_client(concurrency=concurrency, rate=rate),
                            concurrency=concurrency, writer=collected, total=len(rows))
    for record in collected.failed:
        error = record["error"]
        output.warn(_("{pupil} (organization {org}) could not be checked: {code}: {message}").format(
            pupil=for_terminal(record["out_user_id"]), org=for_terminal(record["organization_id"]),
            code=for_terminal(error.get("code")), message=error.get("message")))
    output.info(_("refresh: {ok} of {count} open cases checked in {seconds} s").format(
        ok=summary.ok, count=len(rows), seconds=f"{time.monotonic() - started:.1f}"))
    if summary.fatal:
        number, _exc = summary.fatal
        summary.fatal_where = for_terminal(asked[number - 1].out_user_id)
    if summary.fatal or summary.output_failed or summary.interrupted:
        batch.settle(summary)
    then()
    if summary.failed:
        raise WxpayError(ngettext("{count} open case could not be checked (said above); the list shows what "
                                  "was known before", "{count} open cases could not be checked (said above); "
                                  "the list shows what was known before", summary.failed)
                         .format(count=summary.failed), code="REFRESH_INCOMPLETE")


@cases_group.command("forwarded")
@user_option(required=True)
@org_option(required=True)
@output_options
@click.pass_obj
def forwarded(app: App, out_user_id: str, organization_id: str) -> None:
    """Record that a pupil's repayment link was forwarded to the family.

    A record in the audit log only (operation `forward`): no link is fetched
    and nothing is sent to WeChat. `wxpay handover` records it itself when you
    confirm the link was forwarded; use this when the link was forwarded after
    `wxpay repayment-url`. The case then shows as forwarded (已转发).
    """
    from wxpay_cli.flows import cases
    from wxpay_cli.sanitise import for_terminal

    profile = app.profile()
    log = app.audit()
    reading = cases.read(log)
    known = cases.select(cases.listed(reading.fold, profile.mchid), organization_id=organization_id,
                         pupil=out_user_id)
    case = next((case for case in known if case.out_user_id == out_user_id), None)
    if case is None or case.link_fetched_at is None:
        output.warn(_("the audit log has no link fetched for {pupil} (organization {org}) in this profile: "
                      "recorded anyway").format(pupil=for_terminal(out_user_id), org=for_terminal(organization_id)))
    elif case.stage in ("unknown", "terminated", "resigned"):
        output.warn(_("{pupil} is at stage {stage}: the forwarding is recorded, the stage stays").format(
            pupil=for_terminal(out_user_id), stage=_(STAGE_WORDS[case.stage])))
    pupil = {"user_id": case.user_id, "user_name": case.user_name,
             "student_info": {"class_name": case.class_name}} if case is not None else None
    record = cases.record_forwarded(log, profile, organization_id=organization_id, out_user_id=out_user_id,
                                    pupil=pupil, expire_at=case.expire_at if case is not None else None)
    from wxpay_cli.terminal import times

    app.render(View(data=record, rows=[(_("Pupil"), for_terminal(out_user_id)),
                                       (_("Organization"), for_terminal(organization_id)),
                                       (_("Recorded"), times.local(record["time"]))],
                    title=_("Forwarding recorded")))
