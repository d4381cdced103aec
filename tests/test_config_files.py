"""The config file as it may really be found: a pipe, a device, huge, nested thousands
deep, saved as GBK by Notepad, an unquoted mchid — each a clean exit 3 with one line.
And the `.bak` written before a rewrite is always a fresh private file."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest
from common import SHOW, config_error
from terminal import wxpay_script

from wxpay_cli.local.config import write_document

MAX_CONFIG_BYTES = 1024 * 1024



def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path, run):
    os.mkfifo(tmp_path / "config.toml")
    assert "not a regular file" in config_error(run(*SHOW), one_line=True)


def test_a_device_is_refused(run):
    assert "not a regular file" in config_error(run("--config", "/dev/zero", *SHOW), one_line=True)


def test_a_huge_file_is_refused(tmp_path, run):
    (tmp_path / "config.toml").write_bytes(b"# " + b"x" * MAX_CONFIG_BYTES + b"\n")
    assert "larger than" in config_error(run(*SHOW), one_line=True)


@pytest.mark.parametrize("text", ["a = " + "[" * 5000 + "]" * 5000, "a = " + "{b = " * 5000 + "1" + "}" * 5000],
                         ids=["arrays", "inline-tables"])
def test_toml_nested_thousands_deep(tmp_path, run, text):
    (tmp_path / "config.toml").write_text(text)
    stderr = config_error(run(*SHOW), one_line=True)
    assert "nested too deeply" in stderr or "not valid TOML" in stderr


def test_gbk_from_notepad_names_the_line_and_says_save_as_utf8(sandbox, configure, tmp_path, run):
    configure(sandbox)
    path = tmp_path / "config.toml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(2, "# 学校A 的商户")
    path.write_bytes("\n".join(lines).encode("gbk"))
    line = 3
    stderr = config_error(run(*SHOW), one_line=True)
    assert f"line {line}" in stderr and "UTF-8" in stderr


def test_mchid_without_quotes_says_put_it_in_quotes(sandbox, configure, tmp_path, run):
    configure(sandbox)
    path = tmp_path / "config.toml"
    text = path.read_text()
    start = text.index('mchid = "')
    end = text.index("\n", start)
    mchid = text[start:end].split('"')[1]
    path.write_text(text[:start] + f"mchid = {mchid}" + text[end:])
    stderr = config_error(run(*SHOW), one_line=True)
    assert "put it in quotes" in stderr and f'mchid = "{mchid}"' in stderr


def test_backup_is_a_fresh_private_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('default_profile = "a"\n')
    backup = tmp_path / "config.toml.bak"
    backup.write_text("old backup\n")
    backup.chmod(0o644)  # a backup left world-readable by some other tool
    write_document(path, {"default_profile": "b"})
    assert backup.read_text() == 'default_profile = "a"\n'
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600


def test_backup_never_follows_a_symlink(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('default_profile = "a"\n')
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("not yours\n")
    victim.chmod(0o644)
    (tmp_path / "config.toml.bak").symlink_to(victim)
    write_document(path, {"default_profile": "b"})
    assert victim.read_text() == "not yours\n"
    backup = tmp_path / "config.toml.bak"
    assert not backup.is_symlink() and backup.read_text() == 'default_profile = "a"\n'
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600


def test_ids_that_are_not_valid_text_are_usage_errors(run):
    result = run("user", "show", "--user", "demo\udcff", "--org", "demo-org")  # how Python passes byte 0xff
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert "not valid text" in result.stderr


def test_non_utf8_argv_from_a_real_process():
    result = subprocess.run([wxpay_script(), "user", "show", "--user", b"\xff\xfe", "--org", "o"],
                            capture_output=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert b"Traceback" not in result.stderr and b"not valid text" in result.stderr


def test_config_example_prints_the_example_a_pip_install_has(run):
    """Hints name `wxpay config example`: it works where the user is (no repository needed),
    and what it prints is the repository's config.example.toml, a profile wxpay can load."""
    import tomllib
    from pathlib import Path

    result = run("config", "example", expect=0)
    assert result.stdout == (Path(__file__).parent.parent / "config.example.toml").read_text(encoding="utf-8")
    assert tomllib.loads(result.stdout)["profiles"]["school-a"]["mchid"] == "1900000001"
