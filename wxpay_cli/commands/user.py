"""`wxpay user show`: WeChat's view of a pupil (user query)."""

from __future__ import annotations

import click

from wxpay_cli.app import App
from wxpay_cli.commands._options import org_option, output_options, user_option
from wxpay_cli.output import View, table_rows

USER_LABELS = [
    ("user_name", "Name"),
    ("user_id", "WeChat user_id"),
    ("out_user_id", "Pupil (out_user_id)"),
    ("organization_id", "Organization"),
    ("user_type", "Type"),
    ("status", "Status"),
    ("contract_state", "Contract state"),
    ("contract_id", "Contract"),
    ("face_image_ok", "Face image OK"),
]


@click.group("user")
def user_group() -> None:
    """Look up pupils (and staff) registered for face payment."""


@user_group.command("show")
@user_option(required=True)
@org_option(required=True)
@output_options
@click.pass_obj
def show(app: App, out_user_id: str, organization_id: str) -> None:
    """Show a pupil: names, ids, class, status and contract state.

    An encrypted user_name is shown decrypted with the merchant private key.
    """
    from wxpay_cli import api

    answer = app.client().call(api.get_user(organization_id=organization_id, out_user_id=out_user_id))
    app.render(user_view(answer.data))


def user_view(data: dict) -> View:
    rows = table_rows(data, USER_LABELS)
    if (data.get("student_info") or {}).get("class_name"):
        rows.insert(1, ("Class", data["student_info"]["class_name"]))
    if (data.get("staff_info") or {}).get("occupation"):
        rows.insert(1, ("Occupation", data["staff_info"]["occupation"]))
    return View(data=data, rows=rows, title="Face-payment user")
