"""Mutations of how wxpay uses click through its public extension points only (issue 15):
the formatter for Chinese help, the --help line, number type names, click's sentences."""

TESTS = ["tests/test_i18n.py", "tests/test_colour.py"]

MUTATIONS = [
    # (path, original, replacement, why)
    ("wxpay_cli/click_support.py", "    formatter_class = HelpFormatter\n", "    pass\n",
     "Chinese help wrapped by character count: lines twice the terminal's width"),
    ("wxpay_cli/click_support.py", "            lines = wrap(second, max(self.width - first_width - 2, 10)",
     "            lines = wrap(second, max(self.width - first_width + 20, 10)", "option help wider than the terminal"),
    ("wxpay_cli/click_support.py", "        self.help = _(HELP_TEXT)\n", "\n", "--help's own line left in English"),
    ("wxpay_cli/click_support.py", '        return _(N_("integer range"))', '        return "integer range"',
     "click's number errors name the type in English under zh"),
    ("wxpay_cli/i18n.py", '        os.environ["LANGUAGE"] = "zh_CN"\n', "\n",
     "click's own sentences stay English unless the locale is Chinese"),
    ("wxpay_cli/i18n.py", '        gettext.textdomain(domain)\n', '        pass\n',
     "click's sentences stay Chinese after switching back to English"),
]
