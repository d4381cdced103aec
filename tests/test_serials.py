"""One rule for certificate serials: read any case and any leading zeros, compare
by value, write whole bytes of upper-case hex as openssl does (`0A1B…`, 40 digits).

The session keys (conftest) give both certificates serials that start with 0, so
every other test runs on that case too; these tests pin the rule in each place."""

from __future__ import annotations

import tomllib

import pytest

from wxpay_cli.errors import VerificationError
from wxpay_cli.sandbox import protocol
from wxpay_cli.wire import serials
from wxpay_cli.wire.signing import Signer, VerificationKey, Verifier

# A 20-byte serial whose first byte is 0x0A; openssl prints it with the 0.
SERIAL_INT = 0x0A1B2C3D4E5F60718293A4B5C6D7E8F901234567
OPENSSL = "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567"


def test_written_as_openssl_prints_it():
    assert serials.from_int(SERIAL_INT) == OPENSSL
    assert protocol.serial_text(SERIAL_INT) == OPENSSL  # the sandbox's own formatting agrees
    assert serials.from_int(0x8A) == protocol.serial_text(0x8A) == "8A"
    assert serials.from_int(0xA) == protocol.serial_text(0xA) == "0A"
    assert serials.from_int(0) == protocol.serial_text(0) == "00"


@pytest.mark.parametrize("typed", [
    OPENSSL, OPENSSL.lower(), OPENSSL[1:], "000" + OPENSSL, f"serial={OPENSSL}", f"  serial={OPENSSL[1:]}\n",
    f"SERIAL={OPENSSL.lower()}",
    ":".join(OPENSSL.lower()[i:i + 2] for i in range(0, 40, 2)),
])
def test_read_in_any_form(typed):
    assert serials.canonical(typed) == OPENSSL
    assert serials.same(typed, OPENSSL)


@pytest.mark.parametrize("typed", ["", "serial=", "0A1G", "PUB_KEY_ID_0114", "-0A"])
def test_not_a_serial(typed):
    with pytest.raises(ValueError):
        serials.canonical(typed)
    assert not serials.same(typed, OPENSSL)


def test_public_key_ids_are_not_serials():
    assert serials.key_id("PUB_KEY_ID_0114abc") == "PUB_KEY_ID_0114abc"
    assert serials.key_id(OPENSSL[1:].lower()) == OPENSSL


def test_verifier_matches_serials_by_value_and_key_ids_exactly(sandbox_keys):
    """Wechatpay-Serial naming the platform certificate in another case or without its 0
    is the same certificate; a public key id in another case is not the same key."""
    keys = sandbox_keys
    verifier = Verifier([
        VerificationKey(keys.platform_serial[1:].lower(), keys.platform_key.public_key(), "platform_cert"),
        VerificationKey(keys.public_key_id, keys.wechat_key.public_key(), "public_key"),
    ])
    assert keys.platform_serial in verifier.keys
    timestamp, body = "1764000000", b"{}"
    verifier._clock = lambda: 1764000000.0
    for index, written in enumerate((keys.platform_serial, keys.platform_serial.lower(),
                                     keys.platform_serial.lstrip("0"))):
        nonce = f"{index}" * 32  # a fresh nonce each time: a repeated one is a replay
        signature = protocol.sign(keys.platform_key, protocol.signed_answer(timestamp, nonce, body))
        verifier.verify({"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
                         "Wechatpay-Signature": signature, "Wechatpay-Serial": written}, body)
    signature = protocol.sign(keys.wechat_key, protocol.signed_answer(timestamp, nonce, body))
    with pytest.raises(VerificationError, match="unknown Wechatpay-Serial"):
        verifier.verify({"Wechatpay-Timestamp": timestamp, "Wechatpay-Nonce": nonce,
                         "Wechatpay-Signature": signature, "Wechatpay-Serial": keys.public_key_id.lower()}, body)


def test_signer_writes_the_serial_as_openssl_does(sandbox_keys):
    signer = Signer(sandbox_keys.mchid, sandbox_keys.serial_no[1:].lower(), sandbox_keys.merchant_key)
    header = signer.authorization("GET", "/v3/certificates", b"", timestamp=1764000000, nonce="n" * 32)
    assert f'serial_no="{sandbox_keys.serial_no}"' in header


@pytest.mark.parametrize("written", ["lower", "short"])
def test_profile_serial_in_any_form_signs_with_the_openssl_form(written, sandbox, configure, run):
    serial = sandbox.keys.serial_no.lower() if written == "lower" else sandbox.keys.serial_no[1:]
    configure(sandbox, serial_no=serial)
    run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    [request] = sandbox.received
    assert request.signature_ok
    assert f'serial_no="{sandbox.keys.serial_no}"' in request.headers["Authorization"]
    shown = run("config", "show", "--json").json
    assert shown["serial_no"]["value"] == sandbox.keys.serial_no


def test_certificate_mode_end_to_end_with_zero_led_serials(cert_sandbox, configure, run):
    configure(cert_sandbox)
    result = run("-v", "repayment-url", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert cert_sandbox.received[0].headers["Wechatpay-Serial"] == cert_sandbox.keys.platform_serial
    assert f"< wechatpay-serial: {cert_sandbox.keys.platform_serial}" in result.stderr


def test_sandbox_reads_serials_by_value_in_both_headers(sandbox, configure, run):
    """Authorization's serial_no and the request's Wechatpay-Serial: same rule on the server side."""
    import httpx

    keys = sandbox.keys
    body = b'{"out_user_id":"demo","organization_id":"demo-org"}'
    path = "/v3/offlineface/repayment-url"
    for written, platform in ((keys.serial_no.lower(), keys.platform_serial.lower()),
                              (keys.serial_no[1:], keys.platform_serial[1:])):
        header = Signer(keys.mchid, "X", keys.merchant_key).authorization("POST", path, body)
        header = header.replace('serial_no="X"', f'serial_no="{written}"')
        answer = httpx.post(sandbox.url + path, content=body, headers={
            "Authorization": header, "User-Agent": "t", "Content-Type": "application/json",
            "Wechatpay-Serial": platform})
        assert answer.status_code == 200, answer.text
    header = Signer(keys.mchid, "X", keys.merchant_key).authorization("POST", path, body)
    header = header.replace('serial_no="X"', f'serial_no="1{keys.serial_no}"')
    answer = httpx.post(sandbox.url + path, content=body, headers={"Authorization": header, "User-Agent": "t"})
    assert answer.status_code == 401 and "serial_no" in answer.json()["detail"]["issue"]


@pytest.mark.parametrize("pasted", ["openssl", "lower", "short"])
def test_config_init_takes_the_serial_as_openssl_prints_it(pasted, run, tmp_path, key_files, sandbox):
    keys = sandbox.keys
    typed = {"openssl": f"serial={keys.serial_no}", "lower": keys.serial_no.lower(), "short": keys.serial_no[1:]}[pasted]
    run("config", "init", "--profile", "p", "--mchid", keys.mchid, "--serial-no", typed,
                 "--private-key", str(key_files["private_key"]), "--public-key-id", keys.public_key_id,
                 "--public-key", str(key_files["public_key"]), "--base-url", sandbox.url, "--json", expect=0)
    profile = tomllib.loads((tmp_path / "config.toml").read_text())["profiles"]["p"]
    assert profile["serial_no"] == keys.serial_no
    assert run("repayment-url", "--user", "demo", "--org", "demo-org").exit_code == 0
    assert sandbox.received[-1].signature_ok


def test_config_init_reads_a_zero_led_serial_from_the_certificate(run, tmp_path, key_files, sandbox_keys):
    keys = sandbox_keys
    run("config", "init", "--profile", "p", "--mchid", keys.mchid, "--merchant-cert", str(key_files["merchant_cert"]),
                 "--serial-no", keys.serial_no.lower(),
                 "--private-key", str(key_files["private_key"]), "--public-key-id", keys.public_key_id,
                 "--public-key", str(key_files["public_key"]), "--json", expect=0)
    profile = tomllib.loads((tmp_path / "config.toml").read_text())["profiles"]["p"]
    assert profile["serial_no"] == keys.serial_no and len(profile["serial_no"]) == 40


def test_config_check_accepts_the_serial_in_another_form(sandbox, configure, run):
    table = configure(sandbox, serial_no=sandbox.keys.serial_no[1:].lower())
    configure(sandbox, serial_no=table["serial_no"],
              merchant_cert=table["private_key"].replace("apiclient_key", "apiclient_cert"))
    result = run("config", "check", "--json", expect=0)
    assert sandbox.keys.serial_no in result.stdout


def test_certificate_list_items_name_serials_in_any_form(sandbox_keys):
    """/v3/certificates may write an item's serial in another case or without its 0:
    the same certificate, saved under the openssl form."""
    from test_certs import item

    from wxpay_cli.flows.certificates import decrypt_certificates

    for written in (sandbox_keys.platform_serial.lower(), sandbox_keys.platform_serial[1:]):
        [cert] = decrypt_certificates(item(sandbox_keys, serial=written), sandbox_keys.apiv3_key)
        assert cert.serial_no == sandbox_keys.platform_serial


def test_merchant_certificate_is_refused_as_a_platform_certificate_whatever_the_serials_form(key_files, sandbox_keys):
    from wxpay_cli.errors import ConfigError
    from wxpay_cli.local.credentials import load_platform_certificate

    for written in (sandbox_keys.serial_no.lower(), sandbox_keys.serial_no[1:]):
        with pytest.raises(ConfigError, match="merchant's own certificate"):
            load_platform_certificate(key_files["merchant_cert"], merchant_serial=written)


def test_sandbox_compares_public_key_ids_exactly(sandbox):
    import httpx

    keys = sandbox.keys
    path = "/v3/offlinefacemch/organizations?organization_id=demo-org"
    header = Signer(keys.mchid, keys.serial_no, keys.merchant_key).authorization("GET", path, b"")
    answer = httpx.get(sandbox.url + path, headers={"Authorization": header, "User-Agent": "t",
                                                     "Wechatpay-Serial": keys.public_key_id.lower()})
    assert answer.status_code == 400 and "Wechatpay-Serial" in answer.json()["detail"]["issue"]
