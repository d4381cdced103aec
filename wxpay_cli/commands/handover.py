"""`wxpay handover`: the operator's whole job for one pupil, guided on a terminal."""

from __future__ import annotations

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import Command
from wxpay_cli.commands._options import (
    allow_link_host_option,
    link_host_question,
    name_options,
    org_option,
    user_option,
)
from wxpay_cli.errors import AuditLogError, Cancelled, OperationRefused
from wxpay_cli.i18n import _
from wxpay_cli.sanitise import for_terminal
from wxpay_cli.terminal import output, prompt


@click.command("handover", cls=Command)
@user_option(required=True)
@org_option(required=True)
@click.option("--copy", is_flag=True, help="Put the message to forward (with the link) on the clipboard.")
@allow_link_host_option
@name_options(batch=False)
@click.pass_obj
def handover(app: App, out_user_id: str, organization_id: str, copy: bool, allowed_hosts: tuple[str, ...],
             name: str | None, ignore_names: bool) -> None:
    """Guided: show the pupil, fetch the repayment link (with QR), then terminate.

    1. shows the pupil and stops if the name given (--name) is not WeChat's or
       there is no active contract;
    2. fetches and shows the verified repayment link, its QR code and a message
       ready to paste into WeChat (--copy puts that message on the clipboard);
    3. waits until you confirm the family was reached and the link forwarded;
    4. asks once more, then terminates the contract and shows the new state.
    Answering no at any step stops there; nothing is terminated without your yes.
    Needs a terminal: scripts use `repayment-url` and `contract terminate --yes`.
    """
    from wxpay_cli.commands._views import repayment_view, target_view, terminated_view, user_view
    from wxpay_cli.flows.cases import record_forwarded
    from wxpay_cli.flows.links import fetch_link, find_school
    from wxpay_cli.flows.termination import (
        Consent,
        Termination,
        check_local_state,
        target_from_user,
        terminate_one,
    )
    from wxpay_cli.terminal.clipboard import copy_and_tell
    from wxpay_cli.terminal.message import compose, wants_school
    from wxpay_cli.terminal.qr import LinkTooLong, terminal_text
    from wxpay_cli.wire import api

    if not prompt.interactive():
        raise OperationRefused(_("handover is guided and needs a terminal"),
                               hint=_("in scripts use `wxpay repayment-url` and `wxpay contract terminate --yes`"),
                               code="NOT_INTERACTIVE")
    app.output_format = "table"
    check_local_state(app.audit(), app.replay_memory())  # terminate_one names what was left open
    user = app.client().call(api.get_user(organization_id=organization_id, out_user_id=out_user_id)).data
    app.render(user_view(user))
    target = target_from_user(user, organization_id, out_user_id)
    termination = Termination(app.client(), app.profile(), app.audit(), warn=output.warn)
    termination.check_name(target, name, ignore=ignore_names)
    termination.check_terminable(target)

    if not prompt.confirm(_("Fetch the repayment link now?"), default=True):
        raise Cancelled(_("cancelled before the link was fetched: nothing was terminated"), code="ABANDONED")
    link = fetch_link(app.client(), app.link_fetcher(allowed=allowed_hosts, confirm_host=link_host_question(app)),
                      out_user_id=out_user_id, organization_id=organization_id, pupil=user)
    view = repayment_view(app.profile(), link, out_user_id, organization_id, user)
    try:
        view.blocks.append(terminal_text(link["repayment_url"]))
    except LinkTooLong as exc:
        output.warn(f"{exc.message}; {exc.hint}")
    school = find_school(app.client(), organization_id=organization_id) \
        if wants_school(app.profile().message_template) else None
    text = compose(link, out_user_id=out_user_id, organization_id=organization_id, user=user, school=school,
                   template=app.profile().message_template)
    view.blocks += ["", _("Message to forward (paste it whole):"), text]
    app.render(view)
    if copy:
        copy_and_tell(text, _("message"))

    if not prompt.confirm(_("Have you reached the family and forwarded the link?"), default=False):
        raise Cancelled(_("cancelled: the link was fetched, nothing was terminated"), code="ABANDONED")
    try:  # for `wxpay cases`: the termination below refuses on its own if the log cannot take lines
        record_forwarded(app.audit(), app.profile(), organization_id=organization_id, out_user_id=out_user_id,
                         pupil=user, expire_at=link.get("expire_at"))
    except AuditLogError as exc:
        output.warn(_("{message}; the forwarding was not recorded").format(message=exc.message))
    output.info("")
    # The pupil is looked up again: the call with the family may have taken a while,
    # and the termination must be decided on the state as it is now.
    question = _("Terminate the face-payment contract of {who} now? This cannot be undone").format(
        who=for_terminal(target.user_name or out_user_id))
    target, result = terminate_one(
        app.client(), app.profile(), app.audit(), organization_id=organization_id, out_user_id=out_user_id,
        user_id=None, consent=Consent(given=False, ask=lambda _target: prompt.confirm_irreversible(question)),
        show=lambda now: output.render(target_view(now), "table", to_stderr=True), warn=output.warn, name=name,
        ignore_name=ignore_names)
    app.render(terminated_view(target, result))
