"""`wxpay contract show` and `wxpay contract terminate` (解约)."""

from __future__ import annotations

import click

from wxpay_cli import output
from wxpay_cli.app import App
from wxpay_cli.commands._options import non_blank, org_option, output_options, user_option
from wxpay_cli.errors import OperationRefused
from wxpay_cli.output import View, table_rows

CONTRACT_LABELS = [
    ("contract_id", "Contract"),
    ("contract_state", "State"),
    ("user_id", "WeChat user_id"),
    ("organization_id", "Organization"),
    ("mchid", "Merchant (mchid)"),
    ("openid", "openid"),
    ("contract_signed_time", "Signed"),
    ("contract_terminated_time", "Terminated"),
    ("contract_mode", "Mode"),
    ("contract_bank_card_from", "Bank card from"),
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
    app.render(View(data=answer.data, rows=table_rows(answer.data, CONTRACT_LABELS), title="Contract"))


@contract_group.command("terminate")
@user_option()
@click.option("--user-id", "user_id", metavar="USER_ID", callback=non_blank,
              help="WeChat's user_id instead of --user (the state cannot be checked first).")
@org_option(required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (required off a terminal).")
@click.option("--dry-run", is_flag=True, help="Show the exact signed request and send nothing.")
@output_options
@click.pass_obj
def terminate(app: App, out_user_id: str | None, user_id: str | None, organization_id: str, yes: bool,
              dry_run: bool) -> None:
    """Terminate a pupil's face-payment contract so the family can sign again. Cannot be undone.

    Shows what will be terminated, stops if the contract is not CONTRACTED, asks
    for confirmation (or needs --yes off a terminal), sends the termination once,
    then re-queries and reports the new state. Every step is in the audit log.
    """
    if bool(out_user_id) == bool(user_id):
        raise click.UsageError("give exactly one of --user OUT_USER_ID or --user-id USER_ID")
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
    if app.format == "table" or (not yes and not dry_run and app.interactive()):
        output.render(View(data=target.as_dict(), rows=target.rows(), title="To terminate"), "table", to_stderr=True)
        if target.contract_state is None:
            output.warn("looked up by --user-id: the contract state cannot be checked before sending")
    termination.check_terminable(target)
    if dry_run:
        result = termination.dry_run(target)
        request = result["request"]
        rows = [("Would send", f"{request['method']} {request['url']}")]
        rows += [(name, value) for name, value in request["headers"].items()]
        rows.append(("Body", request["body"] or "(empty)"))
        app.render(View(data=result, rows=rows, title="Dry run: nothing was sent"))
        return
    if not yes:
        if not app.interactive():
            raise termination.refuse(
                target, "refusing to terminate without confirmation: nothing was sent",
                code="NOT_CONFIRMED", hint="run it on a terminal, or pass --yes in scripts",
            )
        who = target.user_name or target.out_user_id or target.user_id
        if not click.confirm(question or f"Terminate the face-payment contract of {who}? This cannot be undone",
                             default=False, err=True):
            termination.record(target, "declined")
            raise OperationRefused("not confirmed: nothing was terminated", code="NOT_CONFIRMED")
    result = steps.run(app.client(), termination.run(target))
    rows = [("Contract state", result["contract_state"]), *[r for r in target.rows() if r[0] != "Contract state"]]
    if result.get("request_id"):
        rows.append(("Request-ID", result["request_id"]))
    app.render(View(data=result, rows=rows, title="Contract terminated"))
