"""wxpay's click: the classes every command is made of, and how click speaks Chinese.

Only click's public extension points are used, so a click release that keeps
its documented API keeps wxpay working (checked on click 8.4.0 and 8.5.1;
pyproject.toml bounds click below 9):

- `Command` and `Group` (every wxpay command is one, by `cls=`) make their
  contexts with `Context`, whose `formatter_class` is `HelpFormatter`: help
  text with Chinese in it is wrapped by display width (`cjkwrap`).
- Their `--help` option is `HelpOption` (`get_help_option` overridden), whose
  help line is translated when it is shown, so it follows the language even
  when one process switches language (the tests do).
- `IntRange` and `FloatRange` name their type in the operator's language in
  click's "'x' is not a valid integer range" (click's own `name` is English).
- click translates its own sentences with the standard library's `gettext`;
  `i18n.set_language` points that domain at wxpay's catalog, which holds
  click's sentences too.

wxpay reaches into no private name of click.
"""

from __future__ import annotations

import click

from wxpay_cli.i18n import N_, _

HELP_TEXT = "Show this message and exit."  # click's own sentence (in wxpay's catalog)
# click's own word for a required option ("[required]"), which it translates by a variable
# (`_(extra["required"])`), out of sight of the extraction: marked here to be in the catalog.
N_("required")


class HelpFormatter(click.HelpFormatter):
    """click's formatter; paragraphs and option help with Chinese in them wrap by display width."""

    def write_text(self, text: str) -> None:
        from wxpay_cli.terminal.cjkwrap import is_wide, wrap

        if not is_wide(text):
            return super().write_text(text)
        indent = " " * self.current_indent
        self.write(wrap(text, self.width, indent, indent, preserve_paragraphs=True))
        self.write("\n")

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        from wxpay_cli.terminal.cjkwrap import is_wide, width, wrap

        rows = list(rows)
        if not any(is_wide(second) for _first, second in rows):
            return super().write_dl(rows, col_max, col_spacing)
        first_width = min(max(width(first) for first, _second in rows), col_max) + col_spacing
        margin = " " * (first_width + self.current_indent)
        for first, second in rows:
            self.write(" " * self.current_indent + first)
            if not second:
                self.write("\n")
                continue
            if width(first) <= first_width - col_spacing:
                self.write(" " * (first_width - width(first)))
            else:
                self.write("\n" + margin)
            lines = wrap(second, max(self.width - first_width - 2, 10), "", "", preserve_paragraphs=True).splitlines()
            self.write((lines[0] if lines else "") + "\n")
            for line in lines[1:]:
                self.write(margin + line + "\n")


class Context(click.Context):
    formatter_class = HelpFormatter


def _show_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from wxpay_cli.terminal import output

        output.help_page(ctx.get_help(), ctx.color)
        ctx.exit()


class HelpOption(click.Option):
    """`--help`, its line in the language in force when help is shown."""

    def __init__(self, names: list[str]):
        super().__init__([*names, "wxpay_help"], is_flag=True, expose_value=False, is_eager=True,
                         callback=_show_help, help=HELP_TEXT)

    def get_help_record(self, ctx: click.Context):
        self.help = _(HELP_TEXT)
        return super().get_help_record(ctx)


class _HelpByLanguage:
    """`get_help_option` made once per command (click compares the option by identity)."""

    context_class = Context

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        names = self.get_help_option_names(ctx)
        if not names or not self.add_help_option:
            return None
        made = self.__dict__.get("wxpay_help_option")
        if made is None or made.opts != names:
            made = self.__dict__["wxpay_help_option"] = HelpOption(names)
        return made


class Command(_HelpByLanguage, click.Command):
    """A wxpay command (`@click.command(cls=Command)`)."""


class Group(_HelpByLanguage, click.Group):
    """A wxpay command group: its subcommands are `Command`s and `Group`s too."""

    command_class = Command
    group_class = type  # a subgroup is of the same class as its group


class IntRange(click.IntRange):
    @property
    def name(self) -> str:
        return _(N_("integer range"))


class FloatRange(click.FloatRange):
    @property
    def name(self) -> str:
        return _(N_("float range"))
