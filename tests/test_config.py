"""Profiles: selection order, validation messages, key files; every problem exits 3
with a clear message and no traceback, and nothing is sent."""

from __future__ import annotations

import pytest
from common import LINK, config_error
from conftest import write_config

from wxpay_cli.sandbox.keys import SandboxKeys
from wxpay_cli.sandbox.profile import profile_table
from wxpay_cli.sandbox.server import Sandbox, seed_demo


def test_missing_config_file(run, tmp_path):
    config_error(run(*LINK), "no config file at", str(tmp_path / "config.toml"), "wxpay config init")


def test_bad_toml_says_file_and_line(run, tmp_path):
    (tmp_path / "config.toml").write_text('[profiles.a]\nmchid = "1"\nserial_no = \n')
    config_error(run(*LINK), "not valid TOML", "line 3")


def test_config_flag_beats_env(run, tmp_path, sandbox):
    other = tmp_path / "other.toml"
    write_config(tmp_path, {"a": profile_table(sandbox, tmp_path / "k")})
    (tmp_path / "config.toml").rename(other)
    config_error(run(*LINK), "no config file")  # $WXPAY_CONFIG points at the missing file
    assert run("--config", str(other), *LINK).exit_code == 0


@pytest.fixture
def two_sandboxes(sandbox, tmp_path):
    """Profiles a and b, each pointing at its own sandbox, so the receiver tells which was used."""
    with Sandbox(SandboxKeys.generate(mchid="1900000002", zero_led=True)) as other:
        seed_demo(other)
        profiles = {"a": profile_table(sandbox, tmp_path / "ka"), "b": profile_table(other, tmp_path / "kb")}
        yield sandbox, other, profiles


def test_profile_precedence_flag_env_default(two_sandboxes, tmp_path, run):
    a, b, profiles = two_sandboxes
    write_config(tmp_path, profiles, default="a")
    assert run(*LINK).exit_code == 0
    assert (len(a.received), len(b.received)) == (1, 0)  # default_profile
    assert run(*LINK, env={"WXPAY_PROFILE": "b"}).exit_code == 0
    assert (len(a.received), len(b.received)) == (1, 1)  # env beats default_profile
    assert run("--profile", "a", *LINK, env={"WXPAY_PROFILE": "b"}).exit_code == 0
    assert (len(a.received), len(b.received)) == (2, 1)  # flag beats env
    assert a.received[-1].signature_ok and b.received[-1].signature_ok


def test_several_profiles_and_none_chosen(two_sandboxes, tmp_path, run):
    _, _, profiles = two_sandboxes
    write_config(tmp_path, profiles)
    config_error(run(*LINK), "several profiles", "a, b")


def test_unknown_profile_lists_known(two_sandboxes, tmp_path, run):
    a, b, profiles = two_sandboxes
    write_config(tmp_path, profiles)
    config_error(run("--profile", "c", *LINK), "no profile 'c'", "--profile", "known profiles: a, b")
    assert a.received == [] and b.received == []


def test_relative_paths_are_from_the_config_folder(sandbox, tmp_path, run, monkeypatch):
    table = profile_table(sandbox, tmp_path / "keys")
    table["private_key"] = "keys/apiclient_key.pem"
    table["public_key"] = "keys/pub_key.pem"
    write_config(tmp_path, {"a": table})
    monkeypatch.chdir(tmp_path / "home")
    assert run(*LINK).exit_code == 0


@pytest.mark.parametrize("change, message", [
    ({"mchid": "19000x"}, "mchid '19000x' must be digits"),
    ({"serial_no": "not hex!"}, "serial_no must be the merchant certificate serial in hex"),
    ({"public_key_id": None}, "public_key_id is missing"),
    ({"public_key_id": "12345"}, "PUB_KEY_ID_"),
    ({"timeout": -1}, "timeout must be a number of seconds above 0"),
    ({"base_url": "ftp://x"}, "must start with https://"),
    ({"serial": "ABC"}, "unknown key 'serial'"),
    ({"mchid": None}, "missing mchid"),
    ({"private_key": None}, "missing private_key"),
])
def test_invalid_profile_values(change, message, sandbox, tmp_path, run):
    table = profile_table(sandbox, tmp_path / "keys")
    for key, value in change.items():
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    write_config(tmp_path, {"a": table})
    config_error(run(*LINK), message, "profile 'a'")
    assert sandbox.received == []


def test_no_verification_key_says_what_to_do(sandbox, tmp_path, run):
    table = profile_table(sandbox, tmp_path / "keys")
    del table["public_key_id"], table["public_key"]
    write_config(tmp_path, {"a": table})
    config_error(run(*LINK), "no key to verify", "wxpay certs download")
    assert sandbox.received == []


def test_missing_key_file(sandbox, configure, run, tmp_path):
    configure(sandbox, private_key=str(tmp_path / "nope.pem"))
    config_error(run(*LINK), "private key file not found", "nope.pem")


def test_garbage_key_file(sandbox, configure, run, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("hello")
    configure(sandbox, private_key=str(bad))
    config_error(run(*LINK), "is not a PEM private key")


def test_certificate_given_as_private_key(sandbox, configure, run, tmp_path):
    configure(sandbox)  # writes the key files, the merchant certificate among them
    cert = tmp_path / "keys-school-a" / "apiclient_cert.pem"
    configure(sandbox, private_key=str(cert))
    config_error(run(*LINK), "holds a certificate, not a private key", "apiclient_key.pem")


def test_bad_public_key_file(sandbox, configure, run, tmp_path):
    bad = tmp_path / "pub.pem"
    bad.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    configure(sandbox, public_key=str(bad))
    config_error(run(*LINK), "not a valid PEM public key")


def test_encrypted_key_without_passphrase(sandbox, configure, run, encrypted_key):
    configure(sandbox, private_key=str(encrypted_key))
    config_error(run(*LINK), "is encrypted and no passphrase", "WXPAY_PRIVATE_KEY_PASSWORD")


def test_encrypted_key_wrong_passphrase(sandbox, configure, run, encrypted_key):
    configure(sandbox, private_key=str(encrypted_key))
    result = run(*LINK, env={"WXPAY_PRIVATE_KEY_PASSWORD": "xyzzy-42"})
    config_error(result, "wrong passphrase")
    assert "xyzzy" not in result.stderr  # the passphrase is never echoed


def test_encrypted_key_right_passphrase(sandbox, configure, run, encrypted_key):
    configure(sandbox, private_key=str(encrypted_key))
    run(*LINK, env={"WXPAY_PRIVATE_KEY_PASSWORD": "s3cret-pass"}, expect=0)
    assert sandbox.received[0].signature_ok


def test_config_error_as_json(run):
    result = run(*LINK, "--json", expect=3)
    assert result.error["code"] == "CONFIG_ERROR"


def test_wrong_serial_is_refused_by_wechat(sandbox, configure, run):
    configure(sandbox, serial_no="ABCDEF0123")
    result = run(*LINK, expect=1)
    assert "SIGN_ERROR" in result.stderr and "serial_no ABCDEF0123" in result.stderr


def test_full_width_mchid_is_refused(sandbox, configure, run):
    configure(sandbox, mchid="１９０００００００１")
    config_error(run(*LINK), "must be digits")


def test_default_profile_must_be_a_name(sandbox, tmp_path, run):
    write_config(tmp_path, {"a": profile_table(sandbox, tmp_path / "k")})
    path = tmp_path / "config.toml"
    path.write_text('default_profile = ["a"]\n' + path.read_text())
    config_error(run(*LINK), "default_profile must be a profile name")


def test_private_key_env_that_is_not_a_key_is_never_echoed(sandbox, configure, run):
    configure(sandbox)
    secret = "TUlJRXZRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NCS2N3Z2dTakFnRUFBb0lCQVFD" * 20  # base64 junk
    result = run(*LINK, env={"WXPAY_PRIVATE_KEY": secret})
    config_error(result, "WXPAY_PRIVATE_KEY holds neither a PEM private key nor the path")
    assert secret[:40] not in result.stderr
    shown = run("config", "show", env={"WXPAY_PRIVATE_KEY": secret})
    config_error(shown, "WXPAY_PRIVATE_KEY holds neither")
    assert secret[:40] not in shown.stderr


@pytest.mark.parametrize("change, message", [
    ({"base_url": "http://x:abc"}, "is not a valid URL"),
    ({"base_url": "https://h/pre?x=1#f"}, "no path, query, fragment"),
    ({"timeout": float("nan")}, "timeout must be a number"),
    ({"timeout": 1e300}, "timeout must be a number"),
    ({"private_key": "/dev/zero"}, "not a regular file"),
    ({"private_key": "~nosuchuser-wxpay/key.pem"}, "no such user"),
])
def test_values_that_would_crash_later_are_config_errors(change, message, sandbox, configure, run):
    configure(sandbox, **change)
    config_error(run(*LINK), message)
    assert sandbox.received == []


def test_config_path_with_unknown_user(run):
    config_error(run("--config", "~nosuchuser-wxpay/c.toml", *LINK), "no such user")
