"""--qr-png writes a new or regular file, never through a symlink (another user's planted link
would let wxpay overwrite whatever it points at) and never into a FIFO or a device."""

from __future__ import annotations

import os

import pytest

FETCH = ("repayment-url", "--user", "demo", "--org", "demo-org", "--json")


def test_a_symlink_is_not_followed(sandbox, configure, run, tmp_path):
    configure(sandbox)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "qr.png").symlink_to(victim)
    result = run(*FETCH, "--qr-png", str(tmp_path / "qr.png"))
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert victim.read_text() == "keep me"
    assert not [r for r in sandbox.received if r.method == "POST"]  # refused before any link is fetched


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_before_anything_is_fetched(sandbox, configure, run, tmp_path):
    configure(sandbox)
    os.mkfifo(tmp_path / "qr.png")
    result = run(*FETCH, "--qr-png", str(tmp_path / "qr.png"))
    assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
    assert sandbox.received == []


def test_a_new_file_is_written_as_a_png(sandbox, configure, run, tmp_path):
    configure(sandbox)
    result = run(*FETCH, "--qr-png", str(tmp_path / "qr.png"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "qr.png").read_bytes().startswith(b"\x89PNG")
