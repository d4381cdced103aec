"""Options shared by several commands, declared once."""

from __future__ import annotations

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import FloatRange, IntRange
from wxpay_cli.i18n import _, os_words
from wxpay_cli.terminal.output import FORMATS


class InputFile(click.File):
    """click.File, saying the operating system's reason (English from the OS) in the operator's language."""

    def fail(self, message, param=None, ctx=None):
        super().fail(os_words(message), param, ctx)


def _set_format(ctx: click.Context, param: click.Parameter, value):
    if value == "csv" and not any(p.name == "batch_input" for p in ctx.command.params):
        raise click.BadParameter(_("csv is for batches (--batch); use table or json"), ctx=ctx, param=param)
    if value:
        chosen = "json" if param.name == "as_json" else value
        flag = "--json" if param.name == "as_json" else f"--format {value}"
        earlier = ctx.meta.get("wxpay.format_flag")
        if earlier and earlier[1] != chosen:
            raise click.UsageError(_("{first} and {second} ask for different output formats: give one").format(
                first=earlier[0], second=flag), ctx=ctx)
        ctx.meta["wxpay.format_flag"] = (flag, chosen)
        ctx.ensure_object(App).output_format = chosen
    return value


def output_options(command):
    """`--format [table|json]` and `--json`; they set App.output_format while parsing,
    so even an error raised later is reported in the chosen format."""
    command = click.option(
        "--json", "as_json", is_flag=True, expose_value=False, is_eager=True, callback=_set_format,
        help="Same as --format json.",
    )(command)
    command = click.option(
        "--format", "fmt", type=click.Choice((*FORMATS, "csv")), expose_value=False, is_eager=True,
        callback=_set_format,
        help="Output format (default: table on a terminal, JSON in a pipe; csv for --batch).",
    )(command)
    return command


def non_blank(ctx: click.Context, param: click.Parameter, value):
    """Reject empty or whitespace-only ids before anything is sent."""
    if value is None:
        return value
    from wxpay_cli.wire.api import check_id

    value = value.strip()
    if not value:
        raise click.BadParameter(_("must not be empty"))
    problem = check_id(value)
    if problem:
        raise click.BadParameter(_("cannot be an id: {problem}").format(problem=problem))
    return value


def user_option(**kwargs):
    return click.option("--user", "out_user_id", metavar="OUT_USER_ID", callback=non_blank,
                        help="The school's own id for the pupil (out_user_id).", **kwargs)


def org_option(**kwargs):
    return click.option("--org", "organization_id", metavar="ORGANIZATION_ID", callback=non_blank,
                        help="The school's organization id.", **kwargs)


def _host_names(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    from wxpay_cli.wire.shapes import link_host

    hosts = []
    for host in value:
        if link_host(f"https://{host.strip()}/") != host.strip() or not host.strip():
            raise click.BadParameter(_("{host!r} is not a host name (give it as the link shows it, without "
                                       "https:// or a path)").format(host=host), ctx=ctx, param=param)
        hosts.append(host.strip().lower())
    return tuple(hosts)


def allow_link_host_option(command):
    """`--allow-link-host HOST` (repeatable): a link to exactly HOST is shown without a question."""
    return click.option("--allow-link-host", "allowed_hosts", metavar="HOST", multiple=True, callback=_host_names,
                        help="Show links to HOST although it is not one of WeChat Pay's domains "
                             "(the profile's link_hosts). Repeatable.")(command)


def link_host_question(app: App):
    """How a person is asked about a link to an unexpected host, or None where nobody can answer
    (scripts, batches: the link is then refused)."""
    from wxpay_cli.terminal import output, prompt

    if not prompt.interactive():
        return None

    def confirm(host: str) -> bool:
        from wxpay_cli.sanitise import for_terminal

        output.warn(_("the link opens {host}, which is not one of WeChat Pay's domains ({domains})").format(
            host=for_terminal(host), domains=", ".join(app.profile().link_hosts) or "-"))
        return prompt.confirm_irreversible(_("Show this link anyway?"))

    return confirm


def finite_rate(ctx: click.Context, param: click.Parameter, value):
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(_("must be a finite number of requests per second"))
    return value


def _on_app(ctx: click.Context, param: click.Parameter, value):
    """Keep a batch option on the App (commands/_batch.py reads it), not in the command's arguments."""
    setattr(ctx.ensure_object(App), param.name, value)
    return value


def batch_options(command):
    """`--batch FILE|-` and how to read it (`--encoding`, `--sheet`, `--accept-numeric-ids`),
    `--concurrency N` and `--rate R`, for commands that take many rows."""
    command = click.option("--accept-numeric-ids", "accept_numeric_ids", is_flag=True, expose_value=False,
                           callback=_on_app,
                           help="With --batch FILE.xlsx: take ids typed as numbers (whole, at most 15 digits) as "
                                "they are. Without it such a row is refused: a number has lost any leading 0, "
                                "and 0012345 saved as 12345 names another pupil.")(command)
    command = click.option("--sheet", "batch_sheet", metavar="NAME", expose_value=False, callback=_on_app,
                           help="With --batch FILE.xlsx: read the sheet NAME (default: the first).")(command)
    command = click.option("--rate", type=FloatRange(min=0.1), metavar="R", callback=finite_rate,
                           help="With --batch: at most R requests per second.")(command)
    command = click.option("--concurrency", type=IntRange(1, 256), default=8, show_default=True, metavar="N",
                           help="With --batch: rows worked on at once.")(command)
    command = click.option("--encoding", metavar="NAME",
                           help="With --batch: the encoding of a text input (default: UTF-8, else GB18030 when "
                                "the file is not UTF-8; UTF-16 when it starts with its BOM).")(command)
    command = click.option("--batch", "batch_input", type=InputFile("rb"), metavar="FILE|-",
                           help="Take rows from an Excel workbook (.xlsx), a CSV (with header) or JSON-lines "
                                "file, or - for stdin; print one line per row, in input order, with the "
                                "input's columns.")(command)
    return command


def single_or_batch(batch_input, required: dict[str, object], extras: dict[str, object] | None = None) -> None:
    """Usage errors: in batch mode the rows come from the file, so no single-row option
    may be given; otherwise every `required` option ("--flag": value) is needed."""
    app = click.get_current_context().find_object(App)
    if batch_input is None and app is not None and app.output_format == "csv":
        raise click.UsageError(_("--format csv is for batches: give --batch FILE"))
    if batch_input is None and click.get_current_context().params.get("encoding"):
        raise click.UsageError(_("--encoding is for batches: give --batch FILE"))
    if batch_input is None and app is not None and app.batch_sheet is not None:
        raise click.UsageError(_("--sheet is for batches: give --batch FILE.xlsx"))
    if batch_input is None and app is not None and app.accept_numeric_ids:
        raise click.UsageError(_("--accept-numeric-ids is for batches: give --batch FILE.xlsx"))
    if batch_input is not None:
        given = [flag for flag, value in {**required, **(extras or {})}.items() if value]
        if given:
            raise click.UsageError(_("--batch takes the rows from the file: drop {options}").format(options=", ".join(given)))
        return
    missing = [flag for flag, value in required.items() if not value]
    if missing:
        raise click.UsageError(_("missing option '{option}' (or give --batch FILE)").format(option=missing[0]))
