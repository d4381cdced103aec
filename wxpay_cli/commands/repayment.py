"""`wxpay repayment-url`: fetch a pupil's verified repayment link for an advance (垫资)."""

from __future__ import annotations

from datetime import datetime

import click

from wxpay_cli.app import App
from wxpay_cli.commands._options import org_option, output_options, user_option
from wxpay_cli.output import View


@click.command("repayment-url")
@user_option(required=True)
@org_option(required=True)
@output_options
@click.pass_obj
def repayment_url(app: App, out_user_id: str, organization_id: str) -> None:
    """Fetch the repayment link for a pupil's advance, verified as coming from WeChat.

    Forward the link by hand to the WeChat account that will repay. With --json
    (or in a pipe) prints exactly WeChat's object: {"repayment_url", "expire_at"}.
    """
    from wxpay_cli import api

    answer = api.repayment_url(app.client(), out_user_id=out_user_id, organization_id=organization_id)
    app.render(repayment_view(app, answer.data, out_user_id, organization_id))


def repayment_view(app: App, data: dict, out_user_id: str, organization_id: str) -> View:
    profile = app.profile()
    expire = datetime.fromisoformat(data["expire_at"])
    return View(
        data=data,
        title="Repayment link",
        rows=[
            ("Expires", f"{expire.astimezone():%Y-%m-%d %H:%M:%S %Z} ({relative(expire)})"),
            ("Pupil (out_user_id)", out_user_id),
            ("Organization", organization_id),
            ("Profile", profile.name),
            ("Merchant (mchid)", profile.mchid),
        ],
        blocks=["Repayment link (forward it whole):", data["repayment_url"]],
    )


def relative(moment: datetime, now: datetime | None = None) -> str:
    """'in 29 min', 'in 2 h 5 min', 'expired 3 min ago'."""
    now = now or datetime.now(moment.tzinfo)
    seconds = int((moment - now).total_seconds())
    minutes = abs(seconds) // 60
    text = f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
    if seconds < 0:
        return f"expired {text} ago"
    return f"in {text}" if minutes else "in under a minute"
