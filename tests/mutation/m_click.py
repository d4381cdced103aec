"""Mutations of how wxpay uses click through its public extension points only (issue 15):
the formatter for Chinese help, the --help line, number type names, click's sentences."""

TESTS = ["tests/test_i18n.py", "tests/test_colour.py", "tests/test_help_layout.py", "tests/test_language_switching.py"]

MUTATIONS = [
    # (path, original, replacement, why)
    ("wxpay_cli/commands/_click.py", "    formatter_class = HelpFormatter\n", "    pass\n",
     "Chinese help wrapped by character count: lines twice the terminal's width"),
    ("wxpay_cli/commands/_click.py", "            lines = wrap(second, max(self.width - first_width - 2, 10)",
     "            lines = wrap(second, max(self.width - first_width + 20, 10)", "option help wider than the terminal"),
    ("wxpay_cli/commands/_click.py", "        self.help = _(HELP_TEXT)\n", "\n", "--help's own line left in English"),
    ("wxpay_cli/commands/_click.py", '        return _(N_("integer range"))', '        return "integer range"',
     "click's number errors name the type in English under zh"),
    ("wxpay_cli/i18n.py", '        os.environ["LANGUAGE"] = "zh_CN"\n', "\n",
     "click's own sentences stay English unless the locale is Chinese"),
    ("wxpay_cli/i18n.py", '        gettext.textdomain(domain)\n', '        pass\n',
     "click's sentences stay Chinese after switching back to English"),
    # found by an independent mutation run (2026-12-05), each with its own test
    ("wxpay_cli/terminal/cjkwrap.py", 'in "WF" else 1', 'in "W" else 1', "full-width punctuation counted as one column"),
    ("wxpay_cli/terminal/cjkwrap.py", "            while len(line) > 1 and line[-1] in _NO_END:", "            while False:",
     "an opening bracket ends a line"),
    ("wxpay_cli/commands/_click.py", "            if width(first) <= first_width - col_spacing:",
     "            if width(first) < first_width - col_spacing:", "the widest option's help pushed to the next line"),
    ("wxpay_cli/commands/_click.py", "    if value and not ctx.resilient_parsing:", "    if value:",
     "completion with --help on the line prints help"),
    ("wxpay_cli/i18n.py", '        os.environ["LANGUAGE"] = "zh_CN"\n', '        os.environ.setdefault("LANGUAGE", "zh_CN")\n',
     "LANGUAGE=en_US:en keeps click's sentences English under --lang zh"),
    ("wxpay_cli/i18n.py", "        localize_command(sub)", "        pass", "subcommands' help left untranslated"),
]
