"""`wxpay contract show` and `wxpay contract terminate` (解约)."""

from __future__ import annotations

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import Group
from wxpay_cli.commands._options import (
    batch_options,
    non_blank,
    org_option,
    output_options,
    single_or_batch,
    user_option,
)
from wxpay_cli.errors import AuditLogError, OperationRefused, WxpayError
from wxpay_cli.i18n import N_, _
from wxpay_cli.sanitise import for_terminal
from wxpay_cli.terminal import output, prompt
from wxpay_cli.terminal.output import Column, View, table_rows

CONTRACT_LABELS = [
    ("contract_id", N_("Contract")),
    ("contract_state", N_("State")),
    ("user_id", N_("WeChat user_id")),
    ("organization_id", N_("Organization")),
    ("mchid", N_("Merchant (mchid)")),
    ("openid", "openid"),
    ("contract_signed_time", N_("Signed")),
    ("contract_terminated_time", N_("Terminated")),
    ("contract_mode", N_("Mode")),
    ("contract_bank_card_from", N_("Bank card from")),
]


@click.group("contract", cls=Group)
def contract_group() -> None:
    """Face-payment contracts: look one up, or terminate one (解约)."""


@contract_group.command("show")
@click.argument("contract_id", callback=non_blank)
@click.option("--appid", callback=non_blank, help="The appid the contract was signed under (optional).")
@output_options
@click.pass_obj
def show(app: App, contract_id: str, appid: str | None) -> None:
    """Show a contract: state, user, signing and termination times."""
    from wxpay_cli.terminal import times
    from wxpay_cli.wire import api

    answer = app.client().call(api.get_contract(contract_id=contract_id, appid=appid))
    shown = {key: times.local(value) if key.endswith("_time") else value for key, value in answer.data.items()}
    app.render(View(data=answer.data, rows=table_rows(shown, CONTRACT_LABELS), title=_("Contract")))


@contract_group.command("terminate")
@user_option()
@click.option("--user-id", "user_id", metavar="USER_ID", callback=non_blank,
              help="WeChat's user_id instead of --user (the state cannot be checked first).")
@org_option()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (required off a terminal and for --batch).")
@click.option("--dry-run", is_flag=True, help="Show the exact signed request and send nothing.")
@batch_options
@output_options
@click.pass_obj
def terminate(app: App, out_user_id: str | None, user_id: str | None, organization_id: str | None, yes: bool,
              dry_run: bool, batch_input, concurrency: int, rate: float | None, encoding: str | None) -> None:
    """Terminate a pupil's face-payment contract so the family can sign again. Cannot be undone.

    Shows what will be terminated, stops if the contract is not CONTRACTED, asks
    for confirmation (or needs --yes off a terminal), sends the termination once,
    then re-queries and reports the new state. Every step is in the audit log.
    With --batch, rows need organization_id and out_user_id (preferred: the state
    is checked first) or user_id; a summary is shown first, then the question on
    a terminal (off one, --yes is required).
    """
    single_or_batch(batch_input, {"--org": organization_id}, {"--user": out_user_id, "--user-id": user_id})
    if batch_input is not None:
        run_termination_batch(app, batch_input, yes=yes, dry_run=dry_run, concurrency=concurrency, rate=rate,
                              encoding=encoding)
        return
    if bool(out_user_id) == bool(user_id):
        raise click.UsageError(_("give exactly one of --user OUT_USER_ID or --user-id USER_ID"))
    run_termination(app, organization_id=organization_id, out_user_id=out_user_id, user_id=user_id,
                    yes=yes, dry_run=dry_run)


def run_termination(app: App, *, organization_id: str, out_user_id: str | None, user_id: str | None,
                    yes: bool, dry_run: bool, question: str | None = None) -> None:
    """The guarded termination flow shared by `contract terminate` and `handover`."""
    from wxpay_cli.flows import steps
    from wxpay_cli.flows.termination import Termination, find_target

    audit = app.audit()
    if not dry_run:
        audit.check_writable()  # refuse before anything is looked up or sent
    termination = Termination(app.client(), app.profile(), audit)
    target = steps.run(app.client(), find_target(organization_id=organization_id, out_user_id=out_user_id,
                                                 user_id=user_id))
    # The preview goes to stderr; with JSON output it is shown only to a person about to confirm.
    if app.format == "table" or (not yes and not dry_run and prompt.interactive()):
        output.render(View(data=target.as_dict(), rows=target.rows(), title=_("To terminate")), "table", to_stderr=True)
        if target.contract_state is None:
            output.warn(_("looked up by --user-id: the contract state cannot be checked before sending"))
    termination.check_terminable(target)
    if dry_run:
        result = termination.dry_run(target)
        request = result["request"]
        rows = [(_("Would send"), f"{request['method']} {request['url']}")]
        rows += [(name, value) for name, value in request["headers"].items()]
        rows.append((_("Body"), request["body"] or _("(empty)")))
        app.render(View(data=result, rows=rows, title=_("Dry run: no termination was sent")))
        return
    if not yes:
        if not prompt.interactive():
            raise termination.refuse(
                target, _("refusing to terminate without confirmation: nothing was sent"),
                code="NOT_CONFIRMED", hint=_("run it on a terminal, or pass --yes in scripts"),
            )
        who = for_terminal(target.user_name or target.out_user_id or target.user_id)
        question = question or _("Terminate the face-payment contract of {who}? This cannot be undone").format(who=who)
        if not prompt.confirm_irreversible(question):
            termination.record(target, "declined")
            raise OperationRefused(_("not confirmed: nothing was terminated"), code="NOT_CONFIRMED")
    result = steps.run(app.client(), termination.run(target))
    rows = [(_("Contract state"), result["contract_state"]), *[r for r in target.rows() if r[0] != _("Contract state")]]
    if result.get("request_id"):
        rows.append((_("Request-ID"), result["request_id"]))
    if result.get("note"):
        rows.append((_("Note"), result["note"]))
    app.render(View(data=result, rows=rows, title=_("Contract terminated")))


# A termination batch line's result columns (--format csv): the pupil found and the outcome.
TERMINATION_COLUMNS = ("user_id", "user_name", "class_name", "contract_id", "contract_state", "request_id", "note",
                       "dry_run")


def run_termination_batch(app: App, stream, *, yes: bool, dry_run: bool, concurrency: int,
                          rate: float | None, encoding: str | None = None) -> None:
    """Terminate every row's contract: the whole input is read and summarised first; nothing
    is sent before the operator confirms on a terminal, or without --yes off one (a dry run
    needs neither). Each pupil is sent once, for the first row that names them."""
    from wxpay_cli.commands._batch import open_input, run_batch
    from wxpay_cli.flows import batch, steps
    from wxpay_cli.flows.termination import Termination, find_target

    audit = app.audit()
    source = open_input(app, stream, required=("organization_id",), one_of=("out_user_id", "user_id"),
                        result_columns=TERMINATION_COLUMNS, encoding=encoding)
    rows = list(source)  # the whole input, so the summary is complete before anything is sent
    usable = [row for row in rows if not row.problem]
    pupils: dict[tuple[str, str, str], None] = {}  # distinct, in input order
    for row in usable:
        by = "out_user_id" if row.values.get("out_user_id") else "user_id"
        pupils.setdefault((row.values["organization_id"], by, row.values[by]), None)
    organizations = sorted({row.values["organization_id"] for row in usable})
    names = [value if by == "out_user_id" else f"user_id {value}" for _org, by, value in pupils]
    profile = app.profile()
    text = (_("dry run: would terminate the contracts of {pupils} pupils") if dry_run
            else _("about to terminate the contracts of {pupils} pupils")).format(pupils=len(pupils))
    text += _(" ({rows} rows: {repeated} repeat a pupil, {unusable} unusable) with profile {profile} "
                    "(mchid {mchid}), organizations: {organizations}; pupils: {names}").format(
        rows=len(rows), repeated=len(usable) - len(pupils), unusable=len(rows) - len(usable),
        profile=for_terminal(profile.name), mchid=for_terminal(profile.mchid),
        organizations=for_terminal(_first(organizations)), names=for_terminal(_first(names, 10)))
    output.info(text)
    if not dry_run:
        audit.check_writable()  # refuse before asking, looking up or sending anything
        if not yes:
            if not prompt.interactive():
                raise OperationRefused(_("a batch termination off a terminal needs --yes: nothing was sent"),
                                       hint=_("check the summary above, or try --dry-run first"),
                                       code="NOT_CONFIRMED")
            question = _("Terminate the face-payment contracts of these {pupils} pupils? This cannot be undone") \
                .format(pupils=len(pupils))
            if not prompt.confirm_irreversible(question):
                raise OperationRefused(_("not confirmed: nothing was terminated"), code="NOT_CONFIRMED")

    claims = batch.Claims()  # which row reaches each pupil first, whatever the scheduling

    async def work(client, row) -> dict:
        try:
            result = await one_row(client, row)
        except WxpayError as exc:
            await _commit_audit(audit, exc)
            raise
        await _commit_audit(audit, None, result)
        return result

    async def one_row(client, row) -> dict:
        termination = Termination(client, profile, audit)
        out_user_id = row.values.get("out_user_id")
        target = await steps.run_async(client, find_target(
            organization_id=row.values["organization_id"], out_user_id=out_user_id,
            user_id=None if out_user_id else row.values.get("user_id")))
        earlier = await claims.claim(row.number, (target.organization_id, target.user_id))
        if earlier is not None:
            raise termination.refuse(target, _("row {earlier} already names this pupil (user_id {user_id}); "
                                               "each pupil is terminated once only").format(
                earlier=earlier, user_id=target.user_id), code="DUPLICATE_ROW")
        return await steps.run_async(client, termination.batch_row(target, dry_run=dry_run))

    if dry_run and app.format == "table":
        table = DryRunTable()
        try:
            run_batch(app, stream, work, concurrency=concurrency, rate=rate, source=source, rows=rows,
                      claims=claims, writer=table, result_columns=TERMINATION_COLUMNS, audit=audit)
        finally:
            table.render()
        return
    run_batch(app, stream, work, concurrency=concurrency, rate=rate, source=source, rows=rows, claims=claims,
              result_columns=TERMINATION_COLUMNS, audit=audit)


async def _commit_audit(audit, failure: WxpayError | None, result: dict | None = None) -> None:
    """A row's audit lines are on disk before its output line. If they cannot be: a row that
    terminated keeps its result with a note; otherwise the run stops (AuditLogError)."""
    try:
        await audit.commit()
    except AuditLogError as exc:
        if result is not None and failure is None:
            note = _("the audit log could not record it: {reason}").format(reason=exc.message)
            result["note"] = f"{result['note']}; {note}" if result.get("note") else note
            return
        if failure is not None:
            exc.message = _("{error}; and {audit_error}").format(error=failure.message, audit_error=exc.message)
        raise exc from None


class DryRunTable:
    """A batch dry run on a terminal: one table row per input row, drawn at the end."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def write(self, record: dict) -> None:
        self.records.append(record)

    def render(self) -> None:
        rows = []
        for record in self.records:
            pupil = record.get("out_user_id") or record.get("user_id")
            error = record.get("error")
            if error:
                happens = _("nothing: {code} ({message})").format(code=error.get("code"), message=error.get("message"))
            else:
                happens = _("terminate contract {contract}").format(contract=record.get("contract_id") or "?")
            rows.append(tuple(for_terminal(value) for value in (
                pupil, record.get("user_name"), record.get("class_name"), record.get("contract_state"), happens)))
        output.render(View(data=self.records, rows=rows, title=_("Dry run: nothing was sent"),
                           # one line a row, cut to fit: the JSON (in a pipe) keeps every word
                           columns=(Column(_("Pupil"), 10, keep=100), Column(_("Name"), 8, keep=80),
                                    Column(_("Class"), 12, keep=70), Column(_("State"), 19, keep=60),
                                    Column(_("What would happen"), 17, keep=90, fill=True))),
                      "table")


def _first(names: list[str], count: int = 5) -> str:
    return _(", ").join(names[:count]) + (_(" and {more} more").format(more=len(names) - count)
                                       if len(names) > count else "")
