"""`wxpay certs download`: decrypt with the APIv3 key, check each certificate's serial,
verify the answer with what was decrypted, write and optionally save the files."""

from __future__ import annotations

import json
import tomllib

import pytest

from wxpay_cli.errors import ConfigError, VerificationError
from wxpay_cli.flows.certificates import decrypt_certificates
from wxpay_cli.sandbox.keys import cert_pem
from wxpay_cli.sandbox.server import Sandbox, seed_demo
from wxpay_cli.wire.signing import aead_encrypt


@pytest.fixture
def new_merchant(cert_sandbox, configure):
    """A certificate-mode merchant before the first download: no verification key at all."""
    configure(cert_sandbox, mode="none")
    return cert_sandbox


def download(run, tmp_path, *args, key=None, input=None):
    env = {"WXPAY_APIV3_KEY": key} if key else None
    return run("certs", "download", "--output", str(tmp_path / "certs"), "--json", *args, env=env, input=input)


def test_first_download_decrypts_verifies_and_writes(new_merchant, run, tmp_path):
    keys = new_merchant.keys
    result = download(run, tmp_path, key=keys.apiv3_key)
    assert result.exit_code == 0, result.stderr
    [record] = json.loads(result.stdout)["certificates"]
    path = tmp_path / "certs" / f"wechatpay_{keys.platform_serial}.pem"
    assert record["serial_no"] == keys.platform_serial and record["path"] == str(path)
    assert record["not_after"] == keys.platform_cert.not_valid_after_utc.isoformat()
    assert path.read_bytes() == cert_pem(keys.platform_cert)
    [request] = new_merchant.received
    assert (request.method, request.target, request.signature_ok) == ("GET", "/v3/certificates", True)
    assert "Wechatpay-Serial" not in request.headers  # nothing to name yet
    assert keys.apiv3_key not in result.stdout + result.stderr


def test_save_adds_the_file_to_the_profile_once(new_merchant, run, tmp_path):
    keys = new_merchant.keys
    assert run("repayment-url", "--user", "demo", "--org", "demo-org").exit_code == 3  # no key yet
    for _ in range(2):
        result = download(run, tmp_path, "--save", key=keys.apiv3_key)
        assert result.exit_code == 0, result.stderr
    profile = tomllib.loads((tmp_path / "config.toml").read_text())["profiles"]["school-a"]
    assert profile["platform_certs"] == [str(tmp_path / "certs" / f"wechatpay_{keys.platform_serial}.pem")]
    assert oct((tmp_path / "config.toml").stat().st_mode & 0o777) == "0o600"
    result = run("repayment-url", "--user", "demo", "--org", "demo-org")
    assert result.exit_code == 0, result.stderr
    assert new_merchant.received[-1].headers["Wechatpay-Serial"] == keys.platform_serial


def test_wrong_apiv3_key_is_exit_3_and_writes_nothing(new_merchant, run, tmp_path):
    before = (tmp_path / "config.toml").read_bytes()
    result = download(run, tmp_path, "--save", key="x" * 32)
    assert result.exit_code == 3
    assert "the APIv3 key is wrong" in result.stderr and "WXPAY_APIV3_KEY" in result.stderr
    assert "x" * 32 not in result.stderr
    assert not (tmp_path / "certs").exists()
    assert (tmp_path / "config.toml").read_bytes() == before


def test_apiv3_key_of_the_wrong_length_sends_nothing(new_merchant, run, tmp_path):
    result = download(run, tmp_path, key="short")
    assert result.exit_code == 3 and "must be 32 bytes" in result.stderr
    assert new_merchant.received == []


def test_no_apiv3_key_off_terminal(new_merchant, run, tmp_path):
    result = download(run, tmp_path)
    assert result.exit_code == 3 and "no APIv3 key" in result.stderr and "WXPAY_APIV3_KEY" in result.stderr


def test_apiv3_key_from_a_hidden_prompt(new_merchant, run, tmp_path, monkeypatch):
    monkeypatch.setattr("wxpay_cli.terminal.prompt.interactive", lambda: True)
    result = download(run, tmp_path, input="too-short\n" + new_merchant.keys.apiv3_key + "\n")
    assert result.exit_code == 0, result.stderr
    assert "must be 32 bytes" in result.stderr  # asked again
    [refused] = [line for line in result.stderr.splitlines() if "must be 32 bytes" in line]
    assert refused.startswith("error: ")  # one casing for every error line (click would say "Error:")
    assert new_merchant.keys.apiv3_key not in result.stdout + result.stderr


def test_apiv3_key_from_the_profile_warns_when_the_file_is_readable(cert_sandbox, configure, run, tmp_path):
    configure(cert_sandbox, mode="none", apiv3_key=cert_sandbox.keys.apiv3_key)
    (tmp_path / "config.toml").chmod(0o644)
    result = download(run, tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "holds apiv3_key and is readable by other users" in result.stderr
    (tmp_path / "config.toml").chmod(0o600)
    assert "apiv3_key" not in download(run, tmp_path).stderr


def test_public_key_merchant_gets_a_clear_404(sandbox, configure, run, tmp_path):
    configure(sandbox)
    result = download(run, tmp_path, key=sandbox.keys.apiv3_key)
    assert result.exit_code == 1
    assert "RESOURCE_NOT_EXISTS" in result.stderr and "add public_key_id and public_key" in result.stderr


def test_mixed_merchant_answer_verified_by_the_public_key(sandbox_keys, configure, run, tmp_path):
    # The answer is signed with the public key, which the profile has: picked by Wechatpay-Serial.
    with Sandbox(sandbox_keys, mode="public_key", has_platform_certs=True) as box:
        seed_demo(box)
        configure(box, mode="public_key")
        result = download(run, tmp_path, "--save", key=sandbox_keys.apiv3_key)
        assert result.exit_code == 0, result.stderr
        assert box.received[0].headers["Wechatpay-Serial"] == sandbox_keys.public_key_id
        assert run("repayment-url", "--user", "demo", "--org", "demo-org").exit_code == 0  # both keys now


@pytest.mark.parametrize("fault", ["bad_signature", "signtest", "unsigned"])
def test_unverifiable_answer_writes_nothing(fault, new_merchant, run, tmp_path):
    new_merchant.inject(fault)
    result = download(run, tmp_path, key=new_merchant.keys.apiv3_key)
    assert result.exit_code == 5, result.stderr
    assert not (tmp_path / "certs").exists()


def test_save_needs_a_config_file(run, tmp_path):
    result = run("--sandbox", "certs", "download", "--output", str(tmp_path / "c"), "--save")
    assert result.exit_code == 3 and "--save needs a profile from a config file" in result.stderr


def test_encrypted_key_without_passphrase(new_merchant, configure, run, tmp_path, sandbox_keys, encrypted_key):
    configure(new_merchant, mode="none", private_key=str(encrypted_key))
    result = download(run, tmp_path, key=sandbox_keys.apiv3_key)
    assert result.exit_code == 3 and "is encrypted and no passphrase" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def item(keys, *, serial=None, pem=None, key=None):
    ciphertext = aead_encrypt((key or keys.apiv3_key).encode(), "nonce1234567", "certificate",
                              pem or cert_pem(keys.platform_cert))
    return {"data": [{"serial_no": serial or keys.platform_serial, "encrypt_certificate": {
        "algorithm": "AEAD_AES_256_GCM", "nonce": "nonce1234567", "associated_data": "certificate",
        "ciphertext": ciphertext}}]}


def test_decrypted_certificate_must_have_the_items_serial(sandbox_keys):
    [cert] = decrypt_certificates(item(sandbox_keys), sandbox_keys.apiv3_key)
    assert cert.serial_no == sandbox_keys.platform_serial
    with pytest.raises(VerificationError, match="holds a certificate with another serial"):
        decrypt_certificates(item(sandbox_keys, serial="ABCDEF"), sandbox_keys.apiv3_key)
    with pytest.raises(VerificationError, match="not a certificate"):
        decrypt_certificates(item(sandbox_keys, pem=b"hello"), sandbox_keys.apiv3_key)
    with pytest.raises(VerificationError, match="has no certificates"):
        decrypt_certificates({"data": []}, sandbox_keys.apiv3_key)
    with pytest.raises(ConfigError, match="APIv3 key is wrong"):
        decrypt_certificates(item(sandbox_keys, key="k" * 32), sandbox_keys.apiv3_key)


def test_profile_with_broken_certificate_can_still_download(new_merchant, run, tmp_path, configure):
    configure(new_merchant, mode="none", platform_certs=[str(tmp_path / "gone.pem")])
    result = download(run, tmp_path, key=new_merchant.keys.apiv3_key)
    assert result.exit_code == 0, result.stderr
    assert "platform certificate file not found" in result.stderr  # a warning, not the end


def test_a_list_holding_the_merchants_own_serial_saves_nothing(sandbox_keys, configure, run, tmp_path):
    """Never accept the merchant's own certificate as a WeChat verification key."""
    import dataclasses

    from wxpay_cli.sandbox.server import Sandbox

    own = dataclasses.replace(sandbox_keys, platform_key=sandbox_keys.merchant_key,
                              platform_cert=sandbox_keys.merchant_cert)
    with Sandbox(own, mode="certificate") as box:
        configure(box, mode="none")
        result = download(run, tmp_path, key=own.apiv3_key)
    assert result.exit_code == 5
    assert "merchant's own serial" in result.stderr
    assert not (tmp_path / "certs").exists() or not any((tmp_path / "certs").iterdir())
