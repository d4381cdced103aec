"""Options shared by several commands, declared once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click

from wxpay_cli.app import App
from wxpay_cli.commands._click import FloatRange, IntRange
from wxpay_cli.i18n import _, os_words
from wxpay_cli.terminal import output
from wxpay_cli.terminal.output import FORMATS


class InputFile(click.File):
    """click.File, saying the operating system's reason (English from the OS) in the operator's language."""

    def fail(self, message, param=None, ctx=None):
        super().fail(os_words(message), param, ctx)


# What -o FILE's name says it is, when --format does not say.
FORMAT_BY_SUFFIX = {".xlsx": "xlsx", ".csv": "csv", ".jsonl": "json", ".json": "json"}


def _set_format(ctx: click.Context, param: click.Parameter, value):
    if value in ("csv", "xlsx") and not any(p.name == "output_path" for p in ctx.command.params):
        raise click.BadParameter(_("{format} is for batches (--batch), wxpay audit and wxpay cases; use table or json").format(
            format=value), ctx=ctx, param=param)
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
        "--format", "fmt", type=click.Choice((*FORMATS, "csv", "xlsx")), expose_value=False, is_eager=True,
        callback=_set_format,
        help="Output format (default: table on a terminal, JSON in a pipe; csv and xlsx with --batch, and for wxpay "
             "audit and wxpay cases).",
    )(command)
    return command


def writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Refuse, before anything is fetched or sent, a file that could not be written afterwards:
    a missing folder, a folder, a symbolic link (never followed), a device, no permission."""
    if value is None:
        return value
    import os

    folder = value.parent
    if not folder.is_dir():
        raise click.BadParameter(_("the folder {folder} does not exist").format(folder=folder))
    if value.is_symlink():
        raise click.BadParameter(_("{path} is a symbolic link: name the file itself").format(path=value))
    if value.is_dir():
        raise click.BadParameter(_("{path} is a folder").format(path=value))
    if value.exists() and not value.is_file():
        raise click.BadParameter(_("{path} is not a regular file").format(path=value))
    if not os.access(value if value.exists() else folder, os.W_OK) or not os.access(folder, os.W_OK):
        raise click.BadParameter(_("{path} cannot be written (permissions)").format(path=value))
    return value


def _set_output(ctx: click.Context, param: click.Parameter, value: Path | None):
    """-o FILE: checked now; its name chooses the format unless --format/--json did; xlsx needs it."""
    app = ctx.ensure_object(App)
    if value is None:
        if app.output_format == "xlsx":
            raise click.UsageError(_("--format xlsx writes a workbook: give -o FILE.xlsx (e.g. -o 结果.xlsx)"),
                                   ctx=ctx)
        return None
    value = writable_file(ctx, param, value)
    named = FORMAT_BY_SUFFIX.get(value.suffix.lower())
    chosen = app.output_format
    if chosen == "table":
        raise click.UsageError(_("a table is for the terminal: -o FILE writes json, csv or xlsx"), ctx=ctx)
    if chosen is None:
        app.output_format = named or "json"
    elif named and named != chosen:
        raise click.UsageError(_("-o {path} names a {named} file, but the format asked for is {chosen}: make "
                                 "them agree").format(path=value, named=named, chosen=chosen), ctx=ctx)
    app.output_path = value
    return value


def output_file(app: App):
    """-o FILE's OutputFile, its temporary file made (None: stdout). When it cannot be, nothing
    has been sent: a usage error."""
    if app.output_path is None:
        return None
    from wxpay_cli.errors import InputError
    from wxpay_cli.terminal.output import OutputFile

    try:
        return OutputFile(app.output_path).open()
    except OSError as exc:
        raise InputError(_("cannot write {path}: {reason}").format(
            path=app.output_path, reason=exc.strerror or type(exc).__name__)) from None


def say_written(app: App) -> None:
    """After rows went to -o FILE: say where, as a batch does (nothing on stdout)."""
    if app.output_path is not None:
        from wxpay_cli.sanitise import for_terminal

        output.info(_("results written to {path}").format(path=for_terminal(str(app.output_path))))


def output_file_option(command):
    """`-o/--output FILE`: the rows go to FILE (replaced whole at the end) instead of stdout."""
    return click.option(
        "-o", "--output", "output_path", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
        expose_value=False, callback=_set_output,
        help="Write the output to FILE instead of stdout: a new file that replaces FILE whole when done "
             "(also after Ctrl-C), never half a file. Its name chooses the format unless --format does "
             "(.xlsx, .csv, else JSON lines).")(command)


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
    for given in value:
        host = given.strip().lower()
        if not host or link_host(f"https://{host}/") != host:
            raise click.BadParameter(_("{host!r} is not a host name (give it as the link shows it, without "
                                       "https:// or a path)").format(host=given), ctx=ctx, param=param)
        hosts.append(host)
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
                                "they are. A number has lost any leading 0 (0012345 saved as 12345 names another "
                                "pupil): without this option its row goes ahead only when the roster's name is "
                                "WeChat's name for that pupil (links and terminations, with a name column), "
                                "and is refused otherwise; --ignore-name-mismatch never lets it through.")(command)
    command = click.option("--sheet", "batch_sheet", metavar="NAME", expose_value=False, callback=_on_app,
                           help="With --batch FILE.xlsx: read the sheet NAME (default: the first).")(command)
    command = click.option("--rate", type=FloatRange(min=0.1), metavar="R", callback=finite_rate,
                           help="With --batch: at most R requests per second.")(command)
    command = click.option("--concurrency", type=IntRange(1, 256), default=8, show_default=True, metavar="N",
                           help="With --batch: rows worked on at once.")(command)
    command = click.option("--encoding", metavar="NAME",
                           help="With --batch: the encoding of a text input (default: UTF-8, else GB18030 when "
                                "the file is not UTF-8; UTF-16 when it starts with its BOM).")(command)
    command = output_file_option(command)
    command = click.option("--batch", "batch_input", type=InputFile("rb"), metavar="FILE|-",
                           help="Take rows from an Excel workbook (.xlsx), a CSV (with header) or JSON-lines "
                                "file, or - for stdin; print one line per row, in input order, with the "
                                "input's columns.")(command)
    return command


def _a_name(ctx: click.Context, param: click.Parameter, value):
    if value is None:
        return value
    if not value.strip():
        raise click.BadParameter(_("must not be empty"))
    return value.strip()


def name_options(*, batch: bool, costs_a_query: bool = False):
    """`--name NAME` (one pupil), with `batch` also `--name-column COLUMN`, and `--ignore-name-mismatch`:
    the operator's name for the pupil, compared with WeChat's before anything is done (flows/names.py)."""
    cost = (" This costs one read-only user query per pupil with a name (none without)." if costs_a_query
            else "")

    def decorate(command):
        command = click.option(
            "--ignore-name-mismatch", "ignore_names", is_flag=True,
            help="Go on when a name differs from WeChat's or cannot be compared (NAME_MISMATCH, "
                 "NAME_UNAVAILABLE); where the pupil is looked up anyway, the difference is still said."
                 + (" In batches no user query is made for the name." if costs_a_query else "")
                 + (" An id a workbook holds as a number still needs its name confirmed (or "
                    "--accept-numeric-ids): it may have lost a leading 0 and name another pupil." if batch
                    else ""))(command)
        if batch:
            command = click.option(
                "--name-column", metavar="COLUMN",
                help="With --batch: the roster column with each pupil's name (default: a column called 姓名 or "
                     "name). Each row's name is compared with WeChat's (spaces and full width ignored); a row "
                     "whose name differs or is blank is not done (NAME_MISMATCH, NAME_UNAVAILABLE)." + cost)(command)
        return click.option(
            "--name", metavar="NAME", callback=_a_name,
            help="The pupil's name as you have it (e.g. 张三): compared with WeChat's (spaces and full width "
                 "ignored) first; if it differs, nothing is done (NAME_MISMATCH)." + cost)(command)

    return decorate


def single_or_batch(batch_input, required: dict[str, object], extras: dict[str, object] | None = None) -> None:
    """Usage errors: in batch mode the rows come from the file, so no single-row option
    may be given; otherwise every `required` option ("--flag": value) is needed."""
    app = click.get_current_context().find_object(App)
    if batch_input is None and app is not None and app.output_format in ("csv", "xlsx"):
        raise click.UsageError(_("--format {format} is for batches: give --batch FILE").format(
            format=app.output_format))
    if batch_input is None and app is not None and app.output_path is not None:
        raise click.UsageError(_("-o FILE is for batches: give --batch FILE"))
    if batch_input is None and click.get_current_context().params.get("encoding"):
        raise click.UsageError(_("--encoding is for batches: give --batch FILE"))
    if batch_input is None and click.get_current_context().params.get("name_column"):
        raise click.UsageError(_("--name-column is for batches: give --batch FILE, or --name NAME for one pupil"))
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


# -- filters (wxpay audit, wxpay cases) ---------------------------------------------


def parse_moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """A date or time, local when it has no offset; for --until a bare date means the end of that day."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(_("use a date or time like 2026-11-26 or 2026-11-26T08:00")) from None
    moment = moment if moment.tzinfo else moment.astimezone()
    if param.name == "until" and len(value.strip()) == 10:
        moment += timedelta(days=1, microseconds=-1)
    return moment


def _folded(text: str) -> str:
    """How a typed word is compared: full-width folded, any case, `-` or a space for `_`."""
    import unicodedata

    return "_".join(unicodedata.normalize("NFKC", text).casefold().replace("-", " ").replace("_", " ").split())


def one_of(choices: dict[str, str]):
    """A callback taking a recorded value (`refused`) or the word a table shows for it, in
    either language (`被拒绝`), in any case; it gives the recorded value. Any other word is a
    usage error listing the valid ones."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        from wxpay_cli.i18n import in_chinese

        typed = _folded(value)
        for recorded, word in choices.items():
            if typed in {_folded(recorded), _folded(word), _folded(in_chinese(word))}:
                return recorded
        from wxpay_cli.sanitise import for_terminal

        valid = _(", ").join(f"`{recorded}`" if _(word) == recorded
                             else _("{value} ({word})").format(value=f"`{recorded}`", word=_(word))
                             for recorded, word in choices.items())
        raise click.BadParameter(_("'{value}' is not one of: {valid}").format(value=for_terminal(value.strip()),
                                                                             valid=valid))

    return callback
