"""Flags that cannot work are refused before anything is fetched; a link too long for
a QR code is said plainly."""

from __future__ import annotations

import json

import pytest
from common import LINK

from wxpay_cli.terminal.qr import LinkTooLong, save_png, terminal_text


@pytest.mark.parametrize("where", ["no-such-folder/qr.png", "a-file/qr.png", "a-folder"])
def test_qr_png_that_cannot_be_written_is_refused_before_fetching(sandbox, configure, run, tmp_path, where):
    configure(sandbox)
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    result = run(*LINK, "--qr-png", str(tmp_path / where))
    assert result.exit_code == 2, result.stderr
    assert "--qr-png" in result.stderr and "Traceback" not in result.stderr
    assert sandbox.received == []  # nothing fetched, so no link is spent or logged


def test_qr_png_that_can_be_written_is_written(sandbox, configure, run, tmp_path):
    configure(sandbox)
    result = run(*LINK, "--qr-png", str(tmp_path / "qr.png"), "--json")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "qr.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("flags", [("--json", "--format", "table"), ("--format", "table", "--json")])
def test_conflicting_output_flags_are_a_usage_error(sandbox, configure, run, flags):
    configure(sandbox)
    result = run(*LINK, *flags)
    assert result.exit_code == 2
    assert "different output formats" in result.stderr
    assert sandbox.received == []


def test_the_same_format_twice_is_fine(sandbox, configure, run):
    configure(sandbox)
    result = run(*LINK, "--json", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["repayment_url"]


def test_a_link_too_long_for_a_qr_code_is_a_clear_error(tmp_path):
    link = "https://pay.example/" + "a" * 3000
    with pytest.raises(LinkTooLong, match="too long for a QR code"):
        terminal_text(link)
    with pytest.raises(LinkTooLong):
        save_png(link, tmp_path / "qr.png")
