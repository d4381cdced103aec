"""The link as a QR code: drawn in a terminal table or written to a PNG file; a PNG path that
cannot be written is refused before anything is fetched; a link too long for a QR code is
said plainly."""

from __future__ import annotations

import pytest
from common import LINK

from wxpay_cli.terminal.qr import LinkTooLong, save_png, terminal_text


@pytest.mark.parametrize("where", ["no-such-folder/qr.png", "a-file/qr.png", "a-folder"])
def test_qr_png_that_cannot_be_written_is_refused_before_fetching(sandbox, configure, run, tmp_path, where):
    configure(sandbox)
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    result = run(*LINK, "--qr-png", str(tmp_path / where), expect=2)
    assert "--qr-png" in result.stderr and "Traceback" not in result.stderr
    assert sandbox.received == []  # nothing fetched, so no link is spent or logged


def test_qr_png_that_can_be_written_is_written(sandbox, configure, run, tmp_path):
    configure(sandbox)
    run(*LINK, "--qr-png", str(tmp_path / "qr.png"), "--json", expect=0)
    assert (tmp_path / "qr.png").read_bytes().startswith(b"\x89PNG")


def test_a_link_too_long_for_a_qr_code_is_a_clear_error(tmp_path):
    link = "https://pay.example/" + "a" * 3000
    with pytest.raises(LinkTooLong, match="too long for a QR code"):
        terminal_text(link)
    with pytest.raises(LinkTooLong):
        save_png(link, tmp_path / "qr.png")


def test_qr_in_terminal_table(sandbox, configure, run):
    configure(sandbox)
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", "--qr", "--format", "table", expect=0)
    qr_lines = [line for line in result.stdout.splitlines() if "█" in line]
    assert len(qr_lines) > 10


def test_qr_png(sandbox, configure, run, tmp_path):
    configure(sandbox)
    png = tmp_path / "link.png"
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", "--qr-png", str(png), expect=0)
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert result.json["repayment_url"]  # stdout still carries only the data


def test_qr_png_unwritable(sandbox, configure, run, tmp_path):
    configure(sandbox)
    result = run("repayment-url", "--user", "demo", "--org", "demo-org", "--qr-png", str(tmp_path / "no" / "x.png"), expect=2)
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
    assert sandbox.received == []
