"""`wxpay sandbox serve` as a place to rehearse: it stops cleanly on SIGTERM and
SIGHUP (its keys go with it), keeps everything across restarts with --state,
hands out a profile with which `certs download` works, and loads your pupils."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from terminal import wxpay_script

from wxpay_cli.local.audit import AuditLog
from wxpay_cli.sandbox.keys import make_certificate


class Served:
    """A `wxpay sandbox serve` subprocess, ready once it has written its profile."""

    def __init__(self, *args: str, timeout: float = 30.0, cwd: Path | None = None):
        self.cwd = cwd or Path.cwd()
        self.proc = subprocess.Popen([wxpay_script(), "sandbox", "serve", "--quiet", *args], cwd=self.cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
        self.stderr = b""
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.proc.terminate()  # never leave a sandbox (and its keys) behind a failed start
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            raise

    def _wait_until_ready(self, timeout: float) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stderr, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while b"stop it with" not in self.stderr:
            assert time.monotonic() < deadline, self.stderr
            assert self.proc.poll() is None, self.stderr.decode() + self.proc.stderr.read().decode()
            if selector.select(timeout=1):
                self.stderr += os.read(self.proc.stderr.fileno(), 4096)
        selector.close()
        line = next(li for li in self.stderr.decode().splitlines() if "profile written to" in li)
        self.config = self.cwd / line.rsplit(" ", 1)[1]  # as its own folder reads it, were it relative
        self.profile = tomllib.loads(self.config.read_text())["profiles"]["sandbox"]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=20)
        finally:
            self.proc.stdout.close()
            self.proc.stderr.close()


@pytest.fixture
def serve():
    """serve(*args) starts a sandbox; any still running at the end (a failed test) is stopped."""
    started: list[Served] = []

    def start(*args: str, cwd: Path | None = None) -> Served:
        started.append(Served(*args, cwd=cwd))
        return started[-1]

    yield start
    for served in started:
        if served.proc.poll() is None:
            served.stop()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_a_signal_stops_it_and_removes_its_keys(signum, serve):
    served = serve()
    folder = served.config.parent
    key = Path(served.profile["private_key"])
    assert key.is_file() and key.is_relative_to(folder)
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert served.stop(signum) == 0
    assert not folder.exists()


@pytest.fixture
def state_dir(tmp_path, sandbox_keys):
    """A --state folder holding the session keys already (RSA generation is slow; serials start with 0)."""
    folder = tmp_path / "state"
    sandbox_keys.save(folder / "sandbox")
    return folder


def test_state_keeps_keys_pupils_and_a_config_init_profile(state_dir, run, tmp_path, sandbox_keys, serve):
    served = serve("--state", str(state_dir))
    keys_dir = Path(served.profile["private_key"]).parent
    assert served.profile["serial_no"] == sandbox_keys.serial_no
    assert run("config", "init", "--profile", "mine", "--mchid", sandbox_keys.mchid,
               "--merchant-cert", str(keys_dir / "apiclient_cert.pem"), "--private-key", str(keys_dir / "apiclient_key.pem"),
               "--public-key-id", sandbox_keys.public_key_id, "--public-key", str(keys_dir / "pub_key.pem"),
               "--base-url", served.profile["base_url"]).exit_code == 0
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json", expect=0)
    assert served.stop() == 0
    assert (state_dir / "config.toml").exists() and (state_dir / "sandbox" / "wechat_key.pem").exists()

    served = serve("--state", str(state_dir))
    assert served.profile["base_url"] == tomllib.loads((tmp_path / "config.toml").read_text())["profiles"]["mine"]["base_url"]
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert result.json["contract_state"] == "TERMINATED"
    assert run("repayment-url", "--user", "demo-2", "--org", "demo-org").exit_code == 0


def test_certificate_mode_profile_downloads_certificates_and_loads_pupils(state_dir, run, tmp_path, sandbox_keys, serve):
    pupils = tmp_path / "pupils.csv"
    pupils.write_text("out_user_id,organization_id,name,class,contract_state\n"
                      "p1,school-x,赵一,一年级一班,CONTRACTED\n", encoding="utf-8")
    served = serve("--mode", "certificate", "--state", str(state_dir), "--pupils", str(pupils))
    assert served.profile["apiv3_key"] == sandbox_keys.apiv3_key
    env = {"WXPAY_CONFIG": str(served.config)}
    result = run("certs", "download", "--output", str(tmp_path / "certs"), "--save", "--json", env=env, expect=0)
    assert (tmp_path / "certs" / f"wechatpay_{sandbox_keys.platform_serial}.pem").is_file()
    result = run("user", "show", "--user", "p1", "--org", "school-x", "--json", env=env, expect=0)
    assert result.json["user_name"] == "赵一"
    assert run("user", "show", "--user", "demo", "--org", "demo-org", env=env).exit_code == 1  # own roster only


def test_a_relative_state_folder_gives_a_profile_that_works_from_any_folder(tmp_path, sandbox_keys, serve, run,
                                                                            monkeypatch):
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    elsewhere.mkdir()
    sandbox_keys.save(here / "state" / "sandbox")
    served = serve("--state", "state", cwd=here)
    state = here / "state"
    assert served.config == state / "config.toml"
    for name in ("private_key", "public_key", "audit_log"):
        assert Path(served.profile[name]).is_absolute(), (name, served.profile[name])
    monkeypatch.chdir(elsewhere)
    env = {"WXPAY_CONFIG": str(served.config)}
    run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", env=env, expect=0)
    assert [r["operation"] for r in AuditLog(state / "audit.jsonl").records()] == ["repayment_url"]
    assert list(elsewhere.iterdir()) == []  # nothing written relative to where wxpay ran


def openssl_serial(pem: Path) -> str:
    """`openssl x509 -noout -serial`, written out here: the serial's 20 bytes, upper-case hex."""
    return x509.load_pem_x509_certificate(pem.read_bytes()).serial_number.to_bytes(20, "big").hex().upper()


@pytest.mark.parametrize("mode", ["public-key", "certificate"])
def test_zero_serials_rehearses_certificates_whose_serials_start_with_0(mode, serve, run, tmp_path):
    served = serve("--zero-serials", "--mode", mode)
    keys_dir = Path(served.profile["private_key"]).parent
    merchant = openssl_serial(keys_dir / "apiclient_cert.pem")
    [platform_file] = keys_dir.glob("wechatpay_*.pem")
    platform = openssl_serial(platform_file)
    assert merchant[0] == platform[0] == "0" and merchant[:2] != "00" and platform[:2] != "00"
    assert served.profile["serial_no"] == merchant  # 40 digits, the leading 0 kept
    assert platform_file.name == f"wechatpay_{platform}.pem"
    env = {"WXPAY_CONFIG": str(served.config)}
    if mode == "certificate":
        assert served.profile["platform_certs"] == [str(platform_file)]
        result = run("certs", "download", "--output", str(tmp_path / "certs"), "--json", env=env, expect=0)
        assert [path.name for path in (tmp_path / "certs").iterdir()] == [platform_file.name]
    link = run("repayment-url", "--user", "demo", "--org", "demo-org", "--json", env=env, expect=0)
    assert link.json["repayment_url"].startswith("https://")
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json", env=env, expect=0)
    assert result.json["contract_state"] == "TERMINATED"
    assert run("user", "show", "--user", "demo", "--org", "demo-org", "--json", env=env,
               expect=0).json["contract_state"] == "TERMINATED"


def test_zero_serials_keeps_its_keys_in_a_state_folder_and_refuses_kept_keys_without_them(tmp_path, sandbox_keys,
                                                                                          serve):
    served = serve("--zero-serials", "--state", str(tmp_path / "new"))
    serial = served.profile["serial_no"]
    assert serial.startswith("0") and len(serial) == 40
    assert served.stop() == 0
    assert serve("--state", str(tmp_path / "new")).profile["serial_no"] == serial  # kept, with or without the flag

    old = tmp_path / "old"
    replace(sandbox_keys, merchant_cert=make_certificate(sandbox_keys.merchant_key, "old merchant",
                                                         serial=0x1A << 152)).save(old / "sandbox")
    refused = subprocess.run([wxpay_script(), "sandbox", "serve", "--zero-serials", "--state", str(old)],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "--zero-serials" in refused.stderr and str(old) in refused.stderr and "Traceback" not in refused.stderr


def test_a_case_rehearsed_across_a_restart(state_dir, tmp_path, serve, run):
    """--resign-after and an unanswered termination, served, and kept by --state over a restart."""
    import json

    pupils = tmp_path / "pupils.csv"
    pupils.write_text("out_user_id,organization_id,name,class,contract_state,termination\n"
                      "m1,school-x,赵一,一年级一班,,unanswered\nn1,school-x,钱二,一年级一班,,\n", encoding="utf-8")
    served = serve("--state", str(state_dir), "--pupils", str(pupils), "--resign-after", "1",
                   "--unanswered-delay", "60")
    env = {"WXPAY_CONFIG": str(served.config)}
    old = run("user", "show", "--user", "n1", "--org", "school-x", "--json", env=env, expect=0).json["contract_id"]
    run("contract", "terminate", "--user", "n1", "--org", "school-x", "--yes", env=env, expect=0)
    terminated = time.monotonic()
    lost = run("contract", "terminate", "--user", "m1", "--org", "school-x", "--yes", env=env, expect=4)
    assert "still CONTRACTED when re-queried" in lost.stderr
    log = AuditLog(state_dir / "audit.jsonl")
    assert [(r["out_user_id"], r["outcome"]) for r in log.records() if r["operation"] == "terminate"] == [
        ("n1", "attempted"), ("n1", "succeeded"), ("m1", "attempted"), ("m1", "unknown")]
    assert served.stop() == 0
    kept = {u["out_user_id"]: u for u in json.loads((state_dir / "state.json").read_text())["users"]}
    assert kept["m1"]["termination_due"] and kept["n1"]["terminated_at"]

    serve("--state", str(state_dir), "--resign-after", "1")
    time.sleep(max(0.0, 1.1 - (time.monotonic() - terminated)))
    again = run("user", "show", "--user", "n1", "--org", "school-x", "--json", env=env, expect=0).json
    assert again["contract_state"] == "CONTRACTED" and again["contract_id"] != old
    assert run("user", "show", "--user", "m1", "--org", "school-x", "--json", env=env,
               expect=0).json["contract_state"] == "CONTRACTED"  # 60 s are not over: still pending
