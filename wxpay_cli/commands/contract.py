"""`wxpay contract show` and `wxpay contract terminate` (解约)."""

from __future__ import annotations

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import Group
from wxpay_cli.commands._options import (
    batch_options,
    name_options,
    non_blank,
    org_option,
    output_options,
    single_or_batch,
    user_option,
)
from wxpay_cli.i18n import _, ngettext
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
@name_options(batch=True)
@batch_options
@output_options
@click.pass_obj
def terminate(app: App, out_user_id: str | None, user_id: str | None, organization_id: str | None, yes: bool,
              dry_run: bool, name: str | None, name_column: str | None, ignore_names: bool, batch_input,
              concurrency: int, rate: float | None, encoding: str | None) -> None:
    """Terminate a pupil's face-payment contract so the family can sign again. Cannot be undone.

    Shows what will be terminated, stops if the name given is not WeChat's or the
    contract is not CONTRACTED (already TERMINATED: nothing to do, exit 0), asks
    for confirmation (or needs --yes off a terminal), sends the termination once,
    then re-queries and reports the new state. Every step is in the audit log.
    With --batch, rows need organization_id and out_user_id (preferred: the state
    is checked first) or user_id; on a terminal every pupil is looked up first and
    shown by name, then one question about those that will be terminated (off a
    terminal, --yes is required).
    """
    single_or_batch(batch_input, {"--org": organization_id},
                    {"--user": out_user_id, "--user-id": user_id, "--name": name})
    if batch_input is not None:
        run_termination_batch(app, batch_input, yes=yes, dry_run=dry_run, concurrency=concurrency, rate=rate,
                              encoding=encoding, name_column=name_column, ignore_names=ignore_names)
        return
    if bool(out_user_id) == bool(user_id):
        raise click.UsageError(_("give exactly one of --user OUT_USER_ID or --user-id USER_ID"))
    if name is not None and user_id:
        raise click.UsageError(_("--name needs --user OUT_USER_ID: a pupil given by --user-id is not looked up, "
                                 "so there is no name to compare"))
    run_termination(app, organization_id=organization_id, out_user_id=out_user_id, user_id=user_id,
                    yes=yes, dry_run=dry_run, name=name, ignore_names=ignore_names)


def run_termination(app: App, *, organization_id: str, out_user_id: str | None, user_id: str | None,
                    yes: bool, dry_run: bool, name: str | None = None, ignore_names: bool = False) -> None:
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
                                   show=show if shown else None, warn=output.warn, name=name,
                                   ignore_name=ignore_names)
    app.render(dry_run_view(result) if dry_run and "request" in result else terminated_view(target, result))


def run_termination_batch(app: App, stream, *, yes: bool, dry_run: bool, concurrency: int,
                          rate: float | None, encoding: str | None = None, name_column: str | None = None,
                          ignore_names: bool = False) -> None:
    """Terminate every row's contract: the whole input is read and its plan shown first; on a
    terminal every pupil is looked up and shown before the one question; nothing is sent before
    the operator agrees (see flows.termination_batch)."""
    from wxpay_cli.commands._batch import open_input, run_batch
    from wxpay_cli.commands._views import (
        DryRunTable,
        dry_run_count_text,
        preview_text,
        termination_plan_text,
        termination_table,
    )
    from wxpay_cli.flows import termination_batch
    from wxpay_cli.flows.batch_lines import CONTRACT_TERMINATE
    from wxpay_cli.flows.names import RosterNames

    audit = app.audit()
    names = RosterNames(name_column, CONTRACT_TERMINATE.keys)
    source = open_input(app, stream, CONTRACT_TERMINATE, encoding=encoding, names=names)
    rows = list(source)  # the whole input, so the plan is complete before anything is sent
    plan = termination_batch.plan(rows)
    asking = not dry_run and not yes and prompt.interactive()
    output.info(termination_plan_text(plan, app.profile(), dry_run=dry_run, looking=asking))
    termination_batch.check_before(audit, dry_run=dry_run, yes=yes, interactive=prompt.interactive(),
                                   replay_memory=None if dry_run else app.replay_memory(), warn=output.warn,
                                   mchid=app.profile().mchid)

    def make_client():
        return app.async_client(concurrency=concurrency, rate=rate)

    looked_up = None
    if asking:
        preview = termination_batch.look_first(rows, app.profile(), make_client=make_client,
                                               concurrency=concurrency, names=names, ignore_names=ignore_names)
        output.render(termination_table(rows, preview.records, preview.found, names, dry_run=False), "table",
                      to_stderr=True)
        terminable, reasons = termination_batch.tally(preview.records)
        output.info(preview_text(terminable, reasons, app.profile()))

        def ask(preview) -> bool:
            return prompt.confirm_irreversible(ngettext(
                "Terminate the face-payment contract of this {pupils} pupil? This cannot be undone",
                "Terminate the face-payment contracts of these {pupils} pupils? This cannot be undone",
                preview.terminable).format(pupils=preview.terminable))

        termination_batch.agree(preview, ask)
        looked_up = preview.found
    work = termination_batch.RowWork(app.profile(), audit, dry_run=dry_run, warn=output.warn, names=names,
                                     ignore_names=ignore_names, looked_up=looked_up)
    table = DryRunTable(rows, work.found, names) if dry_run and app.format == "table" else None
    try:
        run_batch(app, stream, work, CONTRACT_TERMINATE, concurrency=concurrency, rate=rate, source=source,
                  rows=rows, claims=work.claims, writer=table, audit=audit)
    finally:
        if table is not None:
            output.render(table.view(), "table")
            output.info(dry_run_count_text(*termination_batch.tally(table.records)))
