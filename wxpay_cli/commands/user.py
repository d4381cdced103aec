"""`wxpay user show`: WeChat's view of a pupil (user query)."""

from __future__ import annotations

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import Group
from wxpay_cli.commands._options import (
    batch_options,
    org_option,
    output_options,
    single_or_batch,
    user_option,
)


@click.group("user", cls=Group)
def user_group() -> None:
    """Look up pupils (and staff) registered for face payment."""


@user_group.command("show")
@user_option()
@org_option()
@batch_options
@output_options
@click.pass_obj
def show(app: App, out_user_id: str | None, organization_id: str | None, batch_input, concurrency: int,
         rate: float | None, encoding: str | None) -> None:
    """Show a pupil: names, ids, class, status and contract state.

    An encrypted user_name is shown decrypted with the merchant private key.
    With --batch, rows need out_user_id and organization_id.
    """
    from wxpay_cli.wire import api

    single_or_batch(batch_input, {"--user": out_user_id, "--org": organization_id})
    if batch_input is not None:
        from wxpay_cli.commands._batch import run_batch
        from wxpay_cli.flows.batch_lines import USER_SHOW

        async def work(client, row) -> dict:
            return (await client.call(api.get_user(**row.values))).data

        run_batch(app, batch_input, work, USER_SHOW, concurrency=concurrency, rate=rate, encoding=encoding)
        return
    from wxpay_cli.commands._views import user_view

    answer = app.client().call(api.get_user(organization_id=organization_id, out_user_id=out_user_id))
    app.render(user_view(answer.data))
