"""`wxpay repayment-url`: fetch a pupil's verified repayment link for an advance (垫资)."""

from __future__ import annotations

from pathlib import Path

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import Command
from wxpay_cli.commands._options import (
    allow_link_host_option,
    batch_options,
    link_host_question,
    name_options,
    org_option,
    output_options,
    single_or_batch,
    user_option,
    writable_file,
)
from wxpay_cli.errors import WxpayError
from wxpay_cli.i18n import _
from wxpay_cli.terminal import output


@click.command("repayment-url", cls=Command)
@user_option()
@org_option()
@click.option("--qr", is_flag=True, help="Also draw the link as a QR code below the table (scan it with a phone).")
@click.option("--qr-png", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE", callback=writable_file,
              help="Also write the link as a QR code PNG to FILE.")
@click.option("--message", "with_message", is_flag=True,
              help="Also print a message ready to paste into WeChat: the pupil's name and class, the link, "
                   "and when it expires (template: the profile's message_template).")
@click.option("--copy", is_flag=True,
              help="Put the message (or, without --message, the link) on the clipboard.")
@allow_link_host_option
@name_options(batch=True, costs_a_query=True)
@batch_options
@output_options
@click.pass_obj
def repayment_url(app: App, out_user_id: str | None, organization_id: str | None, qr: bool, qr_png: Path | None,
                  with_message: bool, copy: bool, allowed_hosts: tuple[str, ...], name: str | None,
                  name_column: str | None, ignore_names: bool, batch_input, concurrency: int,
                  rate: float | None, encoding: str | None) -> None:
    """Fetch the repayment link for a pupil's advance, verified as coming from WeChat.

    Forward the link by hand to the WeChat account that will repay. With --json
    (or in a pipe) prints exactly WeChat's object: {"repayment_url", "expire_at"}.
    With --name (or a roster's 姓名 column) no link is fetched for a pupil whose
    name WeChat does not confirm. With --batch, rows need out_user_id and
    organization_id; a pupil listed twice gets one link (DUPLICATE_ROW). Every
    fetch is written to the audit log.
    """
    single_or_batch(batch_input, {"--user": out_user_id, "--org": organization_id},
                    {"--qr": qr, "--qr-png": qr_png, "--message": with_message, "--copy": copy, "--name": name})
    if batch_input is not None:
        run_link_batch(app, batch_input, allowed_hosts=allowed_hosts, name_column=name_column,
                       ignore_names=ignore_names, concurrency=concurrency, rate=rate, encoding=encoding)
        return
    # The pupil's name and class (and, for the message, the school's name): read-only
    # calls made before the link is fetched, for the message and the table a person reads
    # (and the name given, checked).
    from wxpay_cli.commands._views import repayment_view
    from wxpay_cli.flows import steps
    from wxpay_cli.flows.links import fetch_link, find_pupil, find_school
    from wxpay_cli.terminal.message import compose, wants_school

    fetcher = app.link_fetcher(allowed=allowed_hosts, confirm_host=link_host_question(app))
    user = school = None
    if name is not None:
        user = steps.run(app.client(), fetcher.check_name(name, out_user_id=out_user_id,
                                                          organization_id=organization_id, ignore=ignore_names))
    elif with_message or app.format == "table":
        user, unknown_because = find_pupil(app.client(), out_user_id=out_user_id, organization_id=organization_id)
        if unknown_because:
            output.warn(_("the pupil's name and class could not be looked up ({reason}); "
                          "the pupil is named by id").format(reason=unknown_because))
    if with_message and wants_school(app.profile().message_template):
        school = find_school(app.client(), organization_id=organization_id)  # read-only, before the link
    data = fetch_link(app.client(), fetcher, out_user_id=out_user_id, organization_id=organization_id, pupil=user)
    view = repayment_view(app.profile(), data, out_user_id, organization_id, user)
    text = None
    if with_message:
        text = compose(data, out_user_id=out_user_id, organization_id=organization_id, user=user, school=school,
                       template=app.profile().message_template)
        if app.format == "table":
            view.blocks += ["", _("Message to forward (paste it whole):"), text]
        else:
            view.data = {**data, "message": text}
    if qr:
        if app.format == "table":
            from wxpay_cli.terminal.qr import LinkTooLong, terminal_text

            try:
                view.blocks.append(terminal_text(data["repayment_url"]))
            except LinkTooLong as exc:
                output.warn(f"{exc.message}; {exc.hint}")
        else:
            output.warn(_("--qr draws only in table output; use --qr-png FILE with JSON"))
    app.render(view)
    if copy:
        from wxpay_cli.terminal.clipboard import copy_and_tell

        copy_and_tell(text if with_message else data["repayment_url"], _("message") if with_message else _("link"))
    if qr_png:
        from wxpay_cli.terminal.qr import save_png

        try:
            save_png(data["repayment_url"], qr_png)
        except OSError as exc:
            raise WxpayError(_("cannot write the QR code to {qr_png}: {strerror}").format(qr_png=qr_png, strerror=exc.strerror), code="FILE_ERROR") from None
        output.info(_("QR code written to {qr_png}").format(qr_png=qr_png))


def run_link_batch(app: App, stream, *, allowed_hosts: tuple[str, ...], name_column: str | None,
                   ignore_names: bool, concurrency: int, rate: float | None, encoding: str | None) -> None:
    """Every row's link: one per pupil (a later row naming the same pupil is DUPLICATE_ROW), and, when
    the roster gives a name, only after WeChat's record of the pupil has confirmed it."""
    from wxpay_cli.commands._batch import open_input, run_batch
    from wxpay_cli.flows import batch, steps
    from wxpay_cli.flows.batch_lines import REPAYMENT_URL
    from wxpay_cli.flows.names import RosterNames

    names = RosterNames(name_column, REPAYMENT_URL.keys)
    source = open_input(app, stream, REPAYMENT_URL, encoding=encoding, names=names)
    fetcher = app.link_fetcher(allowed=allowed_hosts)  # nobody to ask: an unexpected host is the row's error
    claims = batch.Claims()  # the first row naming a pupil gets the link, whatever the scheduling
    where: dict[int, str] = {}  # row number -> the row as the operator finds it (Row.where)

    async def work(client, row) -> dict:
        where[row.number] = row.where  # rows start in input order: an earlier row is already here
        try:
            pupil = (row.values["organization_id"], row.values["out_user_id"])
            earlier = await claims.claim(row.number, pupil)
            if earlier is not None:
                raise fetcher.refuse_duplicate(where[earlier], **row.values)
            found = None
            if row.by_name:  # an id typed as a number: only its name, confirmed by WeChat, lets it through
                found = await steps.run_async(client, fetcher.confirm_number(row, names.of(row)))
            elif (name := None if ignore_names else names.of(row)) is not None:
                # a read-only user query, only for a row with a name
                found = await steps.run_async(client, fetcher.check_name(name, **row.values))
            return (await steps.run_async(client, fetcher.fetch(**row.values, pupil=found))).data
        finally:
            await fetcher.commit()  # the row's audit line is on disk before its output line

    run_batch(app, stream, work, REPAYMENT_URL, concurrency=concurrency, rate=rate, source=source, claims=claims,
              audit=fetcher.audit)
