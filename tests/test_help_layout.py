"""Chinese help laid out by display width (cjkwrap, click_support.HelpFormatter): what an
operator sees in `wxpay --lang zh ... --help` on an 80-column terminal."""

from __future__ import annotations

from wxpay_cli.commands._click import HelpFormatter
from wxpay_cli.terminal.cjkwrap import width, wrap


def test_full_width_punctuation_takes_two_columns():
    assert width("，（）：") == 8 and width("中文") == 4 and width("ab") == 2


def test_a_wrapped_line_uses_the_whole_width_and_no_more():
    lines = wrap("二" * 25, 10).splitlines()
    assert [width(line) for line in lines] == [10] * 5


def test_an_opening_bracket_never_ends_a_line():
    lines = wrap("一二三四（五六）", 10).splitlines()
    assert lines == ["一二三四", "（五六）"], lines


def test_lines_of_chinese_join_without_a_space_and_english_with_one():
    assert wrap("请使用\n中文", 40) == "请使用中文"
    assert wrap("use the\nprofile", 40) == "use the profile"
    assert wrap("使用\nprofile", 40) == "使用profile"


def test_a_paragraph_marked_not_to_rewrap_keeps_its_lines():
    text = "说明：\n\n\b\n第一行\n第二行很长很长很长很长很长很长很长很长"
    assert wrap(text, 20, preserve_paragraphs=True).split("\n\n")[1] == "第一行\n第二行很长很长很长很长很长很长很长很长"


def test_an_indented_paragraph_keeps_its_indent():
    lines = wrap("  缩进的段落" * 6, 20, preserve_paragraphs=True).splitlines()
    assert len(lines) > 1 and all(line.startswith("  ") and width(line) <= 20 for line in lines), lines


def _definitions(rows, columns=80, indent=2):
    formatter = HelpFormatter(width=columns)
    formatter.current_indent = indent
    formatter.write_dl(rows)
    return formatter.getvalue().splitlines()


def test_the_widest_option_name_keeps_its_help_on_its_line():
    rows = [("--profile NAME", "使用的配置档"), ("-v, --verbose", "在标准错误上跟踪请求和应答")]
    lines = _definitions(rows)
    assert lines[0] == "  --profile NAME  使用的配置档", lines
    assert lines[1] == "  -v, --verbose   在标准错误上跟踪请求和应答", lines


def test_wrapped_option_help_continues_under_its_first_line():
    lines = _definitions([("--lang [en|zh]", "提示和帮助的语言：" * 8)], columns=60, indent=2)
    start = lines[0].index("提")
    assert len(lines) > 1 and all(line[:start].isspace() and not line[start].isspace() for line in lines[1:]), lines
    assert all(width(line) <= 60 for line in lines), lines
