"""`wxpay org show`: find a school's organization id from its name (or check an id)."""

from __future__ import annotations

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import Group
from wxpay_cli.commands._options import non_blank, output_options
from wxpay_cli.i18n import _
from wxpay_cli.terminal.output import View


def school_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A school's name as the operator typed it: trimmed, one line, bounded."""
    if value is None:
        return None
    from wxpay_cli.wire.api import MAX_NAME_LENGTH

    value = value.strip()
    if not value:
        raise click.BadParameter(_("must not be empty"))
    if len(value) > MAX_NAME_LENGTH:
        raise click.BadParameter(_("is longer than {count} characters").format(count=MAX_NAME_LENGTH))
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
        raise click.BadParameter(_("must not hold control characters"))
    return value


@click.group("org", cls=Group)
def org_group() -> None:
    """Look up schools (organizations) by id or by name."""


@org_group.command("show")
@click.option("--id", "organization_id", metavar="ORGANIZATION_ID", callback=non_blank,
              help="The organization id to look up.")
@click.option("--name", "organization_name", metavar="NAME", callback=school_name,
              help="The school's full name as registered with WeChat, e.g. 南山中兴小学部.")
@output_options
@click.pass_obj
def show(app: App, organization_id: str | None, organization_name: str | None) -> None:
    """Find a school's organization id from its name (or check an id's name).

    Give exactly one of --id and --name. With --json prints WeChat's object:
    {"organization_id", "organization_name"}.
    """
    from wxpay_cli.wire import api

    if (organization_id is None) == (organization_name is None):
        raise click.UsageError(_("give exactly one of --id and --name"))
    answer = app.client().call(api.get_organization(organization_id=organization_id,
                                                    organization_name=organization_name))
    app.render(organization_view(answer.data))


def organization_view(data: dict) -> View:
    from wxpay_cli.sanitise import for_terminal

    return View(data=data, title=_("Organization"), rows=[
        (_("School name"), for_terminal(data["organization_name"])),
        (_("Organization id"), for_terminal(data["organization_id"])),
    ])
