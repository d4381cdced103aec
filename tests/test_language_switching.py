"""One process may switch language (the tests do; so may a library user): Chinese comes and
goes whole, and the environment the operator set is given back."""

from __future__ import annotations

import os

import pytest

from wxpay_cli import i18n


@pytest.fixture
def english_after(monkeypatch):
    yield
    i18n.set_language("en")


def test_chinese_twice_then_english_gives_back_the_operators_language(monkeypatch, english_after):
    monkeypatch.setenv("LANGUAGE", "fr:de")
    i18n.set_language("zh")
    i18n.set_language("zh")
    assert os.environ["LANGUAGE"] == "zh_CN"
    i18n.set_language("en")
    assert os.environ["LANGUAGE"] == "fr:de"


def test_chinese_wins_over_an_english_language_list(run, monkeypatch):
    """$LANGUAGE=en_US:en (common on desktops) must not keep click's own sentences English."""
    monkeypatch.setenv("LANGUAGE", "en_US:en")
    result = run("--lang", "zh", "audit", "--limit", "x")
    assert result.exit_code == 2 and "用法" in result.stderr and "Usage" not in result.stderr, result.stderr


def test_switching_back_to_english_leaves_no_chinese_in_the_command_list(run):
    before = run("--help", env={"WXPAY_LANG": "en"}).stdout
    assert "显示" in run("--help", env={"WXPAY_LANG": "zh"}).stdout
    assert run("--help", env={"WXPAY_LANG": "en"}).stdout == before


def test_a_subcommands_help_is_chinese_too(run):
    result = run("config", "check", "--help", env={"WXPAY_LANG": "zh"})
    assert result.exit_code == 0 and "用法" in result.stdout and "检查" in result.stdout, result.stdout


def test_completion_with_help_on_the_line_completes_and_prints_no_help():
    from click.testing import CliRunner

    from wxpay_cli.cli import cli

    env = {"_WXPAY_COMPLETE": "bash_complete", "COMP_WORDS": "wxpay user --help sh", "COMP_CWORD": "3"}
    result = CliRunner().invoke(cli, [], prog_name="wxpay", env=env)
    assert result.exit_code == 0 and "show" in result.stdout and "Usage" not in result.stdout, result.stdout
