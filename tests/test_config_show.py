"""`wxpay config show`, key safety on every command, and --profile shell completion."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from common import LINK
from conftest import write_config

from wxpay_cli.cli import cli
from wxpay_cli.local.keys import fingerprint
from wxpay_cli.sandbox.keys import private_pem


def test_show_gives_values_sources_and_fingerprints_never_contents(sandbox, configure, run, tmp_path):
    keys = sandbox.keys
    table = configure(sandbox, mode="both", apiv3_key=keys.apiv3_key)
    result = run("--profile", "school-a", "config", "show", "--json", expect=0)
    shown = result.json
    assert shown["profile"] == {"value": "school-a", "source": "flag"}
    assert shown["config"] == {"value": str(tmp_path / "config.toml"), "source": "env"}
    assert shown["mchid"] == {"value": keys.mchid, "source": "file"}
    assert shown["private_key"]["fingerprint"] == fingerprint(keys.merchant_key.public_key())
    assert shown["public_key"]["fingerprint"] == fingerprint(keys.wechat_key.public_key())
    [cert] = shown["platform_certs"]
    assert cert["value"] == table["platform_certs"][0] and cert["serial_no"] == keys.platform_serial
    assert cert["expires"] == keys.platform_cert.not_valid_after_utc.isoformat()
    assert shown["base_url"]["source"] == "file" and shown["timeout"]["value"] == 10.0
    assert shown["apiv3_key"]["value"] == "(set; not shown)"
    assert "BEGIN" not in result.stdout and keys.apiv3_key not in result.stdout
    assert sandbox.received == []


def test_show_table_and_env_sources(sandbox, configure, run, tmp_path):
    table = configure(sandbox)
    del table["private_key"]
    write_config(tmp_path, {"school-a": table})
    pem = private_pem(sandbox.keys.merchant_key).decode()
    result = run("config", "show", "--format", "table", env={"WXPAY_PRIVATE_KEY": pem, "WXPAY_PROFILE": "school-a"}, expect=0)
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "$WXPAY_PRIVATE_KEY (PEM)" in lines["private_key"] and lines["private_key"].rstrip().endswith("env")
    assert lines["profile"].rstrip().endswith("env")
    assert "BEGIN" not in result.stdout


def test_show_reports_a_broken_file_instead_of_failing(sandbox, configure, run, tmp_path):
    configure(sandbox, public_key=str(tmp_path / "gone.pem"))
    result = run("config", "show", "--json", expect=0)
    assert "not found" in result.json["public_key"]["problem"]


# -- key safety on every command -----------------------------------------------


@pytest.mark.parametrize("argv", [LINK, ("config", "show"), ("config", "check")])
def test_every_command_warns_when_the_key_is_readable(argv, sandbox, configure, run):
    table = configure(sandbox)
    Path(table["private_key"]).chmod(0o640)
    result = run(*argv)
    assert f"warning: {table['private_key']} is readable by other users; run: chmod 600" in result.stderr


def test_certs_download_warns_too(cert_sandbox, configure, run, tmp_path):
    table = configure(cert_sandbox, mode="none")
    Path(table["private_key"]).chmod(0o604)
    result = run("certs", "download", "-o", str(tmp_path / "c"), env={"WXPAY_APIV3_KEY": cert_sandbox.keys.apiv3_key}, expect=0)
    assert "is readable by other users" in result.stderr


def test_private_key_pem_from_the_environment_signs(sandbox, configure, run, tmp_path):
    table = configure(sandbox)
    del table["private_key"]
    write_config(tmp_path, {"a": table})
    run(*LINK, env={"WXPAY_PRIVATE_KEY": private_pem(sandbox.keys.merchant_key).decode()}, expect=0)
    assert sandbox.received[0].signature_ok


def test_private_key_path_from_the_environment_beats_the_file(sandbox, configure, run, tmp_path):
    table = configure(sandbox, private_key=str(tmp_path / "gone.pem"))
    good = Path(table["public_key"]).with_name("apiclient_key.pem")
    assert run(*LINK).exit_code == 3
    assert run(*LINK, env={"WXPAY_PRIVATE_KEY": str(good)}).exit_code == 0


def test_garbage_pem_in_the_environment_is_one_line(sandbox, configure, run, tmp_path):
    configure(sandbox)
    result = run(*LINK, env={"WXPAY_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"}, expect=3)
    assert "$WXPAY_PRIVATE_KEY is not a valid private key" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "nope" not in result.stderr


# -- shell completion -----------------------------------------------------------


def complete(words: str, env: dict | None = None) -> list[str]:
    env = {"_WXPAY_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1),
           **(env or {})}
    result = CliRunner().invoke(cli, [], prog_name="wxpay", env=env)
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line]


def test_profile_names_complete_from_the_config(tmp_path):
    write_config(tmp_path, {"school-a": {}, "school-b": {}, "other": {}})
    assert complete("wxpay --profile sch") == ["school-a", "school-b"]
    other = tmp_path / "other.toml"
    write_config(tmp_path, {"elsewhere": {}})
    (tmp_path / "config.toml").rename(other)
    assert complete(f"wxpay --config {other} --profile ") == ["elsewhere"]


def test_profile_completion_never_fails(tmp_path):
    assert complete("wxpay --profile ") == []  # no config file
    (tmp_path / "config.toml").write_text("not = [toml")
    assert complete("wxpay --profile ") == []


def test_commands_and_options_complete():
    assert "config" in complete("wxpay con") and "certs" in complete("wxpay ce")
    assert sorted(complete("wxpay config ")) == ["check", "example", "init", "show"]
    assert "--output" in complete("wxpay certs download --")
