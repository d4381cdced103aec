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
from wxpay_cli.i18n import _
from wxpay_cli.sanitise import for_terminal
from wxpay_cli.terminal import output, prompt


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
    from wxpay_cli.commands._views import contract_view
    from wxpay_cli.wire import api

    app.render(contract_view(app.client().call(api.get_contract(contract_id=contract_id, appid=appid)).data))


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
                    yes: bool, dry_run: bool) -> None:
    from wxpay_cli.commands._views import dry_run_view, target_view, terminated_view
    from wxpay_cli.flows.termination import Consent, terminate_one

    interactive = prompt.interactive()

    def show(target) -> None:  # on stderr; with JSON output only to a person about to confirm
        output.render(target_view(target), "table", to_stderr=True)
        if target.contract_state is None:
            output.warn(_("looked up by --user-id: the contract state cannot be checked before sending"))

    def ask(target) -> bool:
        who = for_terminal(target.user_name or target.out_user_id or target.user_id)
        return prompt.confirm_irreversible(
            _("Terminate the face-payment contract of {who}? This cannot be undone").format(who=who))

    shown = app.format == "table" or (not yes and not dry_run and interactive)
    target, result = terminate_one(app.client(), app.profile(), app.audit(), organization_id=organization_id,
                                   out_user_id=out_user_id, user_id=user_id, dry_run=dry_run,
                                   consent=Consent(given=yes, ask=ask if interactive else None),
                                   show=show if shown else None, warn=output.warn)
    app.render(dry_run_view(result) if dry_run else terminated_view(target, result))


def run_termination_batch(app: App, stream, *, yes: bool, dry_run: bool, concurrency: int,
                          rate: float | None, encoding: str | None = None) -> None:
    """Terminate every row's contract: the whole input is read and its plan shown first; nothing
    is sent before the operator agrees (see flows.termination_batch)."""
    from wxpay_cli.commands._batch import open_input, run_batch
    from wxpay_cli.commands._views import DryRunTable, termination_plan_text
    from wxpay_cli.flows import termination_batch
    from wxpay_cli.flows.batch_lines import CONTRACT_TERMINATE

    audit = app.audit()
    source = open_input(app, stream, CONTRACT_TERMINATE, encoding=encoding)
    rows = list(source)  # the whole input, so the plan is complete before anything is sent
    plan = termination_batch.plan(rows)
    output.info(termination_plan_text(plan, app.profile(), dry_run=dry_run))

    def ask(plan) -> bool:
        return prompt.confirm_irreversible(
            _("Terminate the face-payment contracts of these {pupils} pupils? This cannot be undone")
            .format(pupils=len(plan.pupils)))

    termination_batch.agree(plan, audit, dry_run=dry_run, yes=yes, ask=ask if prompt.interactive() else None,
                            replay_memory=None if dry_run else app.replay_memory(), warn=output.warn,
                            mchid=app.profile().mchid)
    work = termination_batch.RowWork(app.profile(), audit, dry_run=dry_run, warn=output.warn)
    table = DryRunTable() if dry_run and app.format == "table" else None
    try:
        run_batch(app, stream, work, CONTRACT_TERMINATE, concurrency=concurrency, rate=rate, source=source,
                  rows=rows, claims=work.claims, writer=table, audit=audit)
    finally:
        if table is not None:
            output.render(table.view(), "table")
