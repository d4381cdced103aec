"""`wxpay contract show` and `wxpay contract terminate` (解约)."""

from __future__ import annotations

import click

from wxpay_cli import output
from wxpay_cli.app import App
from wxpay_cli.commands import _prompt
from wxpay_cli.commands._options import (
    batch_options,
    non_blank,
    org_option,
    output_options,
    single_or_batch,
    user_option,
)
from wxpay_cli.errors import OperationRefused
from wxpay_cli.i18n import N_, _
from wxpay_cli.output import View, table_rows
from wxpay_cli.sanitise import for_terminal

CONTRACT_LABELS = [
    ("contract_id", "Contract"),
    ("contract_state", "State"),
    ("user_id", N_("WeChat user_id")),
    ("organization_id", "Organization"),
    ("mchid", "Merchant (mchid)"),
    ("openid", "openid"),
    ("contract_signed_time", "Signed"),
    ("contract_terminated_time", "Terminated"),
    ("contract_mode", "Mode"),
    ("contract_bank_card_from", N_("Bank card from")),
]


@click.group("contract")
def contract_group() -> None:
    """Face-payment contracts: look one up, or terminate one (解约)."""


@contract_group.command("show")
@click.argument("contract_id", callback=non_blank)
@click.option("--appid", callback=non_blank, help="The appid the contract was signed under (optional).")
@output_options
@click.pass_obj
def show(app: App, contract_id: str, appid: str | None) -> None:
    """Show a contract: state, user, signing and termination times."""
    from wxpay_cli import api

    answer = app.client().call(api.get_contract(contract_id=contract_id, appid=appid))
    app.render(View(data=answer.data, rows=table_rows(answer.data, CONTRACT_LABELS), title=_("Contract")))


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
              dry_run: bool, batch_input, concurrency: int, rate: float | None) -> None:
    """Terminate a pupil's face-payment contract so the family can sign again. Cannot be undone.

    Shows what will be terminated, stops if the contract is not CONTRACTED, asks
    for confirmation (or needs --yes off a terminal), sends the termination once,
    then re-queries and reports the new state. Every step is in the audit log.
    With --batch, rows need organization_id and out_user_id (preferred: the state
    is checked first) or user_id; --yes is required and a summary is shown first.
    """
    single_or_batch(batch_input, {"--org": organization_id}, {"--user": out_user_id, "--user-id": user_id})
    if batch_input is not None:
        run_termination_batch(app, batch_input, yes=yes, dry_run=dry_run, concurrency=concurrency, rate=rate)
        return
    if bool(out_user_id) == bool(user_id):
        raise click.UsageError(_("give exactly one of --user OUT_USER_ID or --user-id USER_ID"))
    run_termination(app, organization_id=organization_id, out_user_id=out_user_id, user_id=user_id,
                    yes=yes, dry_run=dry_run)


def run_termination(app: App, *, organization_id: str, out_user_id: str | None, user_id: str | None,
                    yes: bool, dry_run: bool, question: str | None = None) -> None:
    """The guarded termination flow shared by `contract terminate` and `handover`."""
    from wxpay_cli import steps
    from wxpay_cli.termination import Termination, find_target

    audit = app.audit()
    if not dry_run:
        audit.check_writable()  # refuse before anything is looked up or sent
    termination = Termination(app.client(), app.profile(), audit)
    target = steps.run(app.client(), find_target(organization_id=organization_id, out_user_id=out_user_id,
                                                 user_id=user_id))
    # The preview goes to stderr; with JSON output it is shown only to a person about to confirm.
    if app.format == "table" or (not yes and not dry_run and _prompt.interactive()):
        output.render(View(data=target.as_dict(), rows=target.rows(), title=_("To terminate")), "table", to_stderr=True)
        if target.contract_state is None:
            output.warn(_("looked up by --user-id: the contract state cannot be checked before sending"))
    termination.check_terminable(target)
    if dry_run:
        result = termination.dry_run(target)
        request = result["request"]
        rows = [(_("Would send"), f"{request['method']} {request['url']}")]
        rows += [(name, value) for name, value in request["headers"].items()]
        rows.append(("Body", request["body"] or "(empty)"))
        app.render(View(data=result, rows=rows, title=_("Dry run: no termination was sent")))
        return
    if not yes:
        if not _prompt.interactive():
            raise termination.refuse(
                target, _("refusing to terminate without confirmation: nothing was sent"),
                code="NOT_CONFIRMED", hint=_("run it on a terminal, or pass --yes in scripts"),
            )
        who = for_terminal(target.user_name or target.out_user_id or target.user_id)
        question = question or _("Terminate the face-payment contract of {who}? This cannot be undone").format(who=who)
        if not _prompt.confirm_irreversible(question):
            termination.record(target, "declined")
            raise OperationRefused(_("not confirmed: nothing was terminated"), code="NOT_CONFIRMED")
    result = steps.run(app.client(), termination.run(target))
    rows = [(_("Contract state"), result["contract_state"]), *[r for r in target.rows() if r[0] != _("Contract state")]]
    if result.get("request_id"):
        rows.append(("Request-ID", result["request_id"]))
    if result.get("note"):
        rows.append(("Note", result["note"]))
    app.render(View(data=result, rows=rows, title=_("Contract terminated")))


def run_termination_batch(app: App, stream, *, yes: bool, dry_run: bool, concurrency: int,
                          rate: float | None) -> None:
    """Terminate every row's contract: the whole input is read and summarised first, and
    nothing is sent without --yes (a dry run needs none)."""
    from wxpay_cli import batch, steps
    from wxpay_cli.commands._batch import run_batch
    from wxpay_cli.termination import Termination

    audit = app.audit()
    rows = list(batch.read_rows(stream, required=("organization_id",), one_of=("out_user_id", "user_id")))
    usable = [row for row in rows if not row.problem]
    organizations = sorted({row.values["organization_id"] for row in usable})
    pupils = [row.values.get("out_user_id") or f"user_id {row.values['user_id']}" for row in usable]
    profile = app.profile()
    output.info(
        (_("dry run: would terminate the contracts of {count} pupils ({unusable} unusable rows) with profile {profile} (mchid {mchid}), organizations: {organizations}; pupils: {pupils}")
         if dry_run else
         _("about to terminate the contracts of {count} pupils ({unusable} unusable rows) with profile {profile} (mchid {mchid}), organizations: {organizations}; pupils: {pupils}")
         ).format(count=len(usable), unusable=len(rows) - len(usable), profile=profile.name, mchid=profile.mchid,
                  organizations=_first(organizations), pupils=_first(pupils, 10))
    )
    if not (yes or dry_run):
        raise OperationRefused(_("a batch termination needs --yes: nothing was sent"),
                               hint=_("check the summary above, or try --dry-run first"), code="NOT_CONFIRMED")
    if not dry_run:
        audit.check_writable()

    seen: set[tuple[str, str]] = set()  # pupils already reached by an earlier row

    async def work(client, row: dict) -> dict:
        termination = Termination(client, profile, audit)
        out_user_id = row.get("out_user_id")
        return await steps.run_async(client, termination.batch_row(
            organization_id=row["organization_id"], out_user_id=out_user_id,
            user_id=None if out_user_id else row.get("user_id"), dry_run=dry_run, seen=seen))

    run_batch(app, stream, work, concurrency=concurrency, rate=rate, required=(), rows=rows)


def _first(names: list[str], count: int = 5) -> str:
    return ", ".join(names[:count]) + (_(" and {count} more").format(count=len(names) - count) if len(names) > count else "")
