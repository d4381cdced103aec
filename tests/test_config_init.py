"""`wxpay config init`: by flags and interactively, validating every file before
anything is written, keeping other profiles, refusing to overwrite."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta

import pytest
from common import audit_lines
from conftest import write_config

from wxpay_cli.sandbox.keys import cert_pem, make_certificate, private_pem


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    """A config path in a folder that does not exist yet (init must create it, mode 700)."""
    path = tmp_path / "fresh" / "wxpay" / "config.toml"
    monkeypatch.setenv("WXPAY_CONFIG", str(path))
    return path


def public_key_flags(files, keys, name="school-a", **extra):
    flags = {
        "--profile": name, "--mchid": keys.mchid, "--merchant-cert": str(files["merchant_cert"]),
        "--private-key": str(files["private_key"]), "--public-key-id": keys.public_key_id,
        "--public-key": str(files["public_key"]),
    }
    flags.update(extra)
    return [item for pair in flags.items() if pair[1] is not None for item in pair]


def written(path):
    return tomllib.loads(path.read_text())


def test_init_by_flags_writes_a_working_private_profile(run, config_file, key_files, sandbox):
    keys = sandbox.keys
    result = run("config", "init", *public_key_flags(key_files, keys, **{"--base-url": sandbox.url}), "--json", expect=0)
    assert result.json["written"]["serial_no"] == keys.serial_no
    document = written(config_file)
    assert document["default_profile"] == "school-a"
    profile = document["profiles"]["school-a"]
    assert profile["serial_no"] == keys.serial_no  # read from apiclient_cert.pem
    assert profile["private_key"] == str(key_files["private_key"])
    assert profile["merchant_cert"] == str(key_files["merchant_cert"])
    assert "BEGIN" not in config_file.read_text()
    assert oct(config_file.stat().st_mode & 0o777) == "0o600"
    assert oct(config_file.parent.stat().st_mode & 0o777) == "0o700"
    assert sandbox.received == []  # init sends nothing

    assert run("repayment-url", "--user", "demo", "--org", "demo-org").exit_code == 0
    assert sandbox.received[0].signature_ok


def test_init_keeps_other_profiles_and_default(run, tmp_path, key_files, sandbox_keys):
    write_config(tmp_path, {"old": {"mchid": "1", "serial_no": "AB", "private_key": "k.pem",
                                    "public_key_id": "PUB_KEY_ID_1", "public_key": "p.pem"}}, default="old")
    run("config", "init", *public_key_flags(key_files, sandbox_keys, name="new"), expect=0)
    document = written(tmp_path / "config.toml")
    assert sorted(document["profiles"]) == ["new", "old"]
    assert document["default_profile"] == "old"
    assert document["profiles"]["old"]["private_key"] == "k.pem"


def test_init_refuses_to_overwrite_without_force(run, tmp_path, key_files, sandbox_keys):
    assert run("config", "init", *public_key_flags(key_files, sandbox_keys)).exit_code == 0
    before = (tmp_path / "config.toml").read_bytes()
    result = run("config", "init", *public_key_flags(key_files, sandbox_keys, **{"--mchid": "1900000009"}), expect=1)
    assert "profile 'school-a' already exists" in result.stderr and "--force" in result.stderr
    assert (tmp_path / "config.toml").read_bytes() == before

    run("config", "init", *public_key_flags(key_files, sandbox_keys, **{"--mchid": "1900000009"}), "--force", expect=0)
    assert written(tmp_path / "config.toml")["profiles"]["school-a"]["mchid"] == "1900000009"


def test_init_uses_the_global_profile_name(run, tmp_path, key_files, sandbox_keys):
    args = public_key_flags(key_files, sandbox_keys)[2:]  # without --profile
    assert run("--profile", "school-z", "config", "init", *args).exit_code == 0
    assert list(written(tmp_path / "config.toml")["profiles"]) == ["school-z"]


def test_init_without_a_terminal_names_the_missing_flag(run, tmp_path, key_files, sandbox_keys):
    args = public_key_flags(key_files, sandbox_keys, **{"--mchid": None})
    result = run("config", "init", *args, input="1900000001\n", expect=2)
    assert "Missing option '--mchid'" in result.stderr
    assert not (tmp_path / "config.toml").exists()


@pytest.mark.parametrize("change, message", [
    ({"--mchid": "19x"}, "'19x' is not an mchid: it must be digits"),
    ({"--mchid": "１９００００００01"}, "character 1 (１) is full-width: use half-width characters"),
    ({"--mchid": "1900 000001"}, "character 5 is a space"),
    ({"--public-key-id": "12345"}, "'12345' does not look like a public key id PUB_KEY_ID_"),
    ({"--serial-no": "ABCDEF"}, "serial_no ABCDEF is not the serial of"),
    ({"--merchant-cert": None, "--serial-no": "XYZ"}, "'XYZ' is not a certificate serial_no in hex"),
    ({"--base-url": "ftp://x"}, "'ftp://x' must start with https://"),
    ({"--base-url": "http://x:abc"}, "'http://x:abc' is not a valid URL"),
])
def test_init_rejects_bad_values_and_writes_nothing(change, message, run, tmp_path, key_files, sandbox_keys):
    result = run("config", "init", *public_key_flags(key_files, sandbox_keys, **change), expect=3)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "config.toml").exists()


def test_init_refuses_a_key_that_is_not_the_certificates(run, tmp_path, key_files, sandbox_keys):
    other = tmp_path / "other_key.pem"
    other.write_bytes(private_pem(sandbox_keys.platform_key))
    other.chmod(0o600)
    result = run("config", "init", *public_key_flags(key_files, sandbox_keys, **{"--private-key": str(other)}), expect=3)
    assert "the private key does not belong to" in result.stderr and sandbox_keys.serial_no in result.stderr
    assert not (tmp_path / "config.toml").exists()


@pytest.mark.parametrize("role, content, message", [
    ("--private-key", None, "private key file not found"),
    ("--private-key", b"hello", "is not a PEM private key"),
    ("--private-key", "merchant_cert", "holds a certificate, not a private key"),
    ("--public-key", "merchant_cert", "is a certificate, not a public key"),
    ("--merchant-cert", b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", "not a valid PEM certificate"),
])
def test_init_bad_files_are_one_line_errors(role, content, message, run, tmp_path, key_files, sandbox_keys):
    path = tmp_path / "given.pem"
    if content == "merchant_cert":
        path = key_files["merchant_cert"]
    elif content is not None:
        path.write_bytes(content)
    result = run("config", "init", *public_key_flags(key_files, sandbox_keys, **{role: str(path)}), expect=3)
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "config.toml").exists()


def test_init_certificate_mode_checks_each_certificate(run, tmp_path, key_files, sandbox_keys):
    expired = tmp_path / "wechatpay_old.pem"
    start = datetime.now(UTC) - timedelta(days=400)
    expired.write_bytes(cert_pem(make_certificate(sandbox_keys.platform_key, "old", days=365, not_before=start)))
    base = ["config", "init", "--profile", "c", "--mchid", sandbox_keys.mchid, "--serial-no", sandbox_keys.serial_no,
            "--private-key", str(key_files["private_key"])]

    result = run(*base, "--platform-cert", str(key_files["platform_cert"]), "--platform-cert", str(expired))
    assert result.exit_code == 3 and "expired on" in result.stderr
    result = run(*base, "--platform-cert", str(key_files["merchant_cert"]))
    assert result.exit_code == 3 and "the merchant's own certificate" in result.stderr
    assert not (tmp_path / "config.toml").exists()

    result = run(*base, "--platform-cert", str(key_files["platform_cert"]), expect=0)
    profile = written(tmp_path / "config.toml")["profiles"]["c"]
    assert profile["platform_certs"] == [str(key_files["platform_cert"])]
    assert "public_key_id" not in profile


def test_init_without_verification_key_warns_what_to_do(run, tmp_path, key_files, sandbox_keys):
    result = run("config", "init", "--profile", "c", "--mchid", sandbox_keys.mchid, "--serial-no", sandbox_keys.serial_no,
                 "--private-key", str(key_files["private_key"]), expect=0)
    assert "wxpay certs download" in result.stderr


def test_init_encrypted_key_without_passphrase_off_terminal(run, tmp_path, key_files, sandbox_keys, encrypted_key):
    result = run("config", "init", *public_key_flags(key_files, sandbox_keys, **{"--private-key": str(encrypted_key)}))
    assert result.exit_code == 3 and "is encrypted and no passphrase" in result.stderr
    assert not (tmp_path / "config.toml").exists()


def test_init_encrypted_key_with_passphrase_in_env(run, tmp_path, key_files, sandbox_keys, encrypted_key):
    run("config", "init", *public_key_flags(key_files, sandbox_keys, **{"--private-key": str(encrypted_key)}),
                 env={"WXPAY_PRIVATE_KEY_PASSWORD": "s3cret-pass"}, expect=0)
    assert "s3cret" not in (tmp_path / "config.toml").read_text()


def test_init_asks_the_passphrase_hidden_until_right(run, tmp_path, key_files, sandbox_keys, encrypted_key, terminal):
    result = run("config", "init", *public_key_flags(key_files, sandbox_keys, **{"--private-key": str(encrypted_key)}),
                 input="wrong-one\ns3cret-pass\n", expect=0)
    assert "wrong passphrase" in result.stderr  # asked again
    assert "s3cret" not in result.stdout + result.stderr and "wrong-one" not in result.stdout + result.stderr
    assert "WXPAY_PRIVATE_KEY_PASSWORD" in result.stderr
    assert "s3cret" not in (tmp_path / "config.toml").read_text()


@pytest.mark.parametrize("typed", ["wrong", "passphrase", "key"])
def test_a_wrong_passphrase_is_reported_whole(run, tmp_path, key_files, sandbox_keys, encrypted_key, terminal,
                                              typed):
    """click masks a hidden answer wherever it appears in the error: typing "wrong" must not
    turn "wrong passphrase" into "*** passphrase"."""
    result = run("config", "init", *public_key_flags(key_files, sandbox_keys, **{"--private-key": str(encrypted_key)}),
                 input=f"{typed}\ns3cret-pass\n", expect=0)
    assert "wrong passphrase" in result.stderr
    assert "s3cret" not in result.stdout + result.stderr


def test_init_interactive_asks_with_defaults_and_validation(run, tmp_path, key_files, sandbox_keys, terminal,
                                                            monkeypatch):
    monkeypatch.setenv("LOGNAME", "wang.wu")
    answers = [
        "",  # profile name: default
        "",  # the operator: the login name
        "19x", sandbox_keys.mchid,  # re-asked after an invalid mchid
        str(tmp_path / "missing.pem"), str(key_files["private_key"]),  # re-asked after a missing file
        str(key_files["merchant_cert"]),
        "PUB_1", sandbox_keys.public_key_id,
        str(key_files["public_key"]),
        "",  # base URL: default
    ]
    result = run("config", "init", input="\n".join(answers) + "\n", expect=0)
    assert "must be digits" in result.stderr and "private key file not found" in result.stderr
    assert "does not look like a public key id" in result.stderr
    profile = written(tmp_path / "config.toml")["profiles"]["default"]
    assert profile == {
        "operator": "wang.wu", "mchid": sandbox_keys.mchid, "serial_no": sandbox_keys.serial_no,
        "private_key": str(key_files["private_key"]), "merchant_cert": str(key_files["merchant_cert"]),
        "public_key_id": sandbox_keys.public_key_id, "public_key": str(key_files["public_key"]),
    }


def test_init_asks_again_for_a_full_width_mchid_saying_so_in_chinese(run, tmp_path, key_files, sandbox_keys,
                                                                     terminal):
    answers = ["", "", "１９０００００００１", sandbox_keys.mchid, str(key_files["private_key"]),
               str(key_files["merchant_cert"]), sandbox_keys.public_key_id, str(key_files["public_key"]), ""]
    result = run("--lang", "zh", "config", "init", input="\n".join(answers) + "\n", expect=0)
    assert "第 1 个字符“１”是全角字符" in result.stderr and "请改用半角字符" in result.stderr, result.stderr
    assert written(tmp_path / "config.toml")["profiles"]["default"]["mchid"] == sandbox_keys.mchid


@pytest.mark.parametrize("lang, question", [("en", "Your name, for the audit log"), ("zh", "您的姓名（写入审计日志）")])
def test_init_asks_who_the_operator_is_and_the_audit_log_names_them(lang, question, run, tmp_path, key_files,
                                                                     sandbox, terminal, monkeypatch):
    monkeypatch.setenv("LOGNAME", "root")
    keys = sandbox.keys
    answers = ["", " 张三 ", keys.mchid, str(key_files["private_key"]), str(key_files["merchant_cert"]),
               keys.public_key_id, str(key_files["public_key"]), sandbox.url]
    result = run("--lang", lang, "config", "init", input="\n".join(answers) + "\n", expect=0)
    assert f"{question} [root]" in result.stderr, result.stderr
    assert written(tmp_path / "config.toml")["profiles"]["default"]["operator"] == "张三"
    assert "张三" in result.stdout  # the profile written, as shown
    run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert audit_lines()[-1]["operator"] == "张三"


def test_init_takes_the_operator_as_a_flag_and_checks_it(run, tmp_path, key_files, sandbox_keys):
    run("config", "init", *public_key_flags(key_files, sandbox_keys, **{"--operator": "李四"}), expect=0)
    assert written(tmp_path / "config.toml")["profiles"]["school-a"]["operator"] == "李四"
    for bad in ("", "a\x1bb", "x" * 65):
        result = run("config", "init", *public_key_flags(key_files, sandbox_keys, name="other",
                                                         **{"--operator": bad}), expect=(2, 3))
        assert "operator" in result.stderr
    assert set(written(tmp_path / "config.toml")["profiles"]) == {"school-a"}


def test_init_by_flags_without_operator_writes_none(run, tmp_path, key_files, sandbox_keys):
    run("config", "init", *public_key_flags(key_files, sandbox_keys), expect=0)
    assert "operator" not in written(tmp_path / "config.toml")["profiles"]["school-a"]  # the login name, at each run


def test_init_refuses_a_malformed_config_with_its_line(run, tmp_path, key_files, sandbox_keys):
    (tmp_path / "config.toml").write_text('[profiles.a]\nmchid = "1"\nserial_no = \n')
    before = (tmp_path / "config.toml").read_bytes()
    result = run("config", "init", *public_key_flags(key_files, sandbox_keys))
    assert result.exit_code == 3 and "not valid TOML" in result.stderr and "line 3" in result.stderr
    assert (tmp_path / "config.toml").read_bytes() == before


def test_relative_paths_are_stored_absolute(run, tmp_path, key_files, sandbox_keys, monkeypatch):
    monkeypatch.chdir(key_files["private_key"].parent)
    run("config", "init", "--profile", "r", "--mchid", sandbox_keys.mchid, "--merchant-cert", "apiclient_cert.pem",
                 "--private-key", "apiclient_key.pem", "--public-key-id", sandbox_keys.public_key_id,
                 "--public-key", "pub_key.pem", expect=0)
    assert written(tmp_path / "config.toml")["profiles"]["r"]["private_key"] == str(key_files["private_key"])


def test_init_refuses_before_asking_anything(run, tmp_path, key_files, sandbox_keys, terminal):
    assert run("config", "init", *public_key_flags(key_files, sandbox_keys)).exit_code == 0
    result = run("config", "init", "--profile", "school-a", input="")
    assert result.exit_code == 1 and "already exists" in result.stderr
    assert "Merchant id" not in result.stderr  # no question was asked first


def test_write_profile_refuses_and_leaves_the_file_whole(tmp_path, key_files, sandbox_keys):
    from wxpay_cli.errors import OperationRefused
    from wxpay_cli.local.config import write_profile

    path = tmp_path / "cfg.toml"
    table = {"mchid": sandbox_keys.mchid, "serial_no": sandbox_keys.serial_no, "private_key": str(key_files["private_key"])}
    write_profile(path, "a", table)
    before = path.read_bytes()
    with pytest.raises(OperationRefused, match="already exists"):
        write_profile(path, "a", {**table, "mchid": "2"})
    assert path.read_bytes() == before
    write_profile(path, "a", {**table, "mchid": "2"}, force=True)
    assert written(path)["profiles"]["a"]["mchid"] == "2"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".config-")] == []  # no temp file left


def test_init_refuses_an_expired_merchant_certificate(run, tmp_path, key_files, sandbox_keys):
    expired = tmp_path / "apiclient_cert_old.pem"
    start = datetime.now(UTC) - timedelta(days=400)
    expired.write_bytes(cert_pem(make_certificate(sandbox_keys.merchant_key, "old", days=365, not_before=start)))
    result = run("config", "init", *public_key_flags(key_files, sandbox_keys, **{"--merchant-cert": str(expired)}))
    assert result.exit_code == 3 and "expired on" in result.stderr
    assert not (tmp_path / "config.toml").exists()


def test_init_warns_about_a_readable_key(run, tmp_path, key_files, sandbox_keys):
    key_files["private_key"].chmod(0o644)
    try:
        result = run("config", "init", *public_key_flags(key_files, sandbox_keys))
    finally:
        key_files["private_key"].chmod(0o600)
    assert result.exit_code == 0, result.stderr
    assert "readable by other users" in result.stderr and "chmod 600" in result.stderr


def test_second_profile_keeps_the_first_as_default(run, tmp_path, key_files, sandbox_keys):
    """A file with one profile and no default_profile: adding another must not break commands."""
    run("config", "init", *public_key_flags(key_files, sandbox_keys, name="first"), expect=0)
    path = tmp_path / "config.toml"
    text = path.read_text()
    path.write_text("# my notes\n" + "\n".join(line for line in text.splitlines() if not line.startswith("default_profile")))
    run("config", "init", *public_key_flags(key_files, sandbox_keys, name="second"), expect=0)
    document = tomllib.loads(path.read_text())
    assert document["default_profile"] == "first" and set(document["profiles"]) == {"first", "second"}
    assert (tmp_path / "config.toml.bak").read_text().startswith("# my notes")  # comments kept in the backup
    assert oct((tmp_path / "config.toml.bak").stat().st_mode & 0o777) == "0o600"


def test_symlinked_config_is_written_through(run, tmp_path, key_files, sandbox_keys, monkeypatch):
    real = tmp_path / "real" / "config.toml"
    real.parent.mkdir()
    real.write_text("")
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    monkeypatch.setenv("WXPAY_CONFIG", str(link))
    run("config", "init", *public_key_flags(key_files, sandbox_keys), expect=0)
    assert link.is_symlink() and "profiles" in tomllib.loads(real.read_text())


def test_init_with_sandbox_flag_is_refused(run, tmp_path, key_files, sandbox_keys):
    result = run("--sandbox", "config", "init", *public_key_flags(key_files, sandbox_keys))
    assert result.exit_code == 2 and "drop --sandbox" in result.stderr
    assert not (tmp_path / "config.toml").exists()


def test_init_interactive_asks_again_for_each_wrong_file(run, tmp_path, key_files, sandbox_keys, terminal):
    """A certificate of another key, or a public key file that is not one: asked again, not fatal."""
    other = tmp_path / "other_cert.pem"
    other.write_bytes(cert_pem(make_certificate(sandbox_keys.platform_key, "someone else")))
    answers = [
        "", "", sandbox_keys.mchid, str(key_files["private_key"]),
        str(other), str(key_files["merchant_cert"]),  # the first certificate is not this key's
        sandbox_keys.public_key_id,
        str(key_files["merchant_cert"]), str(key_files["public_key"]),  # a certificate is not pub_key.pem
        "",
    ]
    result = run("config", "init", input="\n".join(answers) + "\n", expect=0)
    assert "does not belong to" in result.stderr and "is a certificate, not a public key" in result.stderr
    assert written(tmp_path / "config.toml")["profiles"]["default"]["merchant_cert"] == str(key_files["merchant_cert"])


def test_init_wrong_passphrase_in_env_fails_once(run, tmp_path, key_files, sandbox_keys, encrypted_key, terminal):
    answers = ["", "", sandbox_keys.mchid, str(encrypted_key)] + [str(encrypted_key)] * 5
    result = run("config", "init", input="\n".join(answers) + "\n", env={"WXPAY_PRIVATE_KEY_PASSWORD": "nope-nope"})
    assert result.exit_code == 3 and "wrong passphrase" in result.stderr
    assert result.stderr.count("Private key file") == 1  # not asked again and again
