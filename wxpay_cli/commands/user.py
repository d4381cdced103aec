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
from wxpay_cli.i18n import N_, _
from wxpay_cli.terminal.output import View, table_rows

USER_LABELS = [
    ("user_name", N_("Name")),
    ("user_id", N_("WeChat user_id")),
    ("out_user_id", N_("Pupil (out_user_id)")),
    ("organization_id", N_("Organization")),
    ("user_type", N_("Type")),
    ("status", N_("Status")),
    ("contract_state", N_("Contract state")),
    ("contract_id", N_("Contract")),
    ("face_image_ok", N_("Face image OK")),
]


# A batch line's result columns (--format csv): WeChat's user fields, nested ones by path.
USER_COLUMNS = ("user_id", "user_name", "user_type", "student_info.class_name", "staff_info.occupation", "status",
                "contract_state", "contract_id", "face_image_ok", "student_info", "staff_info")


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

        async def work(client, row) -> dict:
            return (await client.call(api.get_user(**row.values))).data

        run_batch(app, batch_input, work, concurrency=concurrency, rate=rate, encoding=encoding,
                  required=("out_user_id", "organization_id"), result_columns=USER_COLUMNS)
        return
    answer = app.client().call(api.get_user(organization_id=organization_id, out_user_id=out_user_id))
    app.render(user_view(answer.data))


def user_view(data: dict) -> View:
    rows = table_rows(data, USER_LABELS)
    if (data.get("student_info") or {}).get("class_name"):
        rows.insert(1, (_("Class"), data["student_info"]["class_name"]))
    if (data.get("staff_info") or {}).get("occupation"):
        rows.insert(1, (_("Occupation"), data["staff_info"]["occupation"]))
    return View(data=data, rows=rows, title=_("Face-payment user"))
