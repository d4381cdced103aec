"""Shared fixtures: an isolated environment, sandbox servers, config files, a CLI runner."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import tomli_w
from batchrows import seed_pupils
from click.testing import CliRunner
from hostile import Hostile

from wxpay_cli.app import App
from wxpay_cli.cli import cli
from wxpay_cli.errors import ExitStatus
from wxpay_cli.sandbox.keys import SandboxKeys, private_pem
from wxpay_cli.sandbox.profile import profile_table
from wxpay_cli.sandbox.server import Sandbox, seed_demo

WXPAY_ENV = (
    "WXPAY_CONFIG", "WXPAY_PROFILE", "WXPAY_PRIVATE_KEY", "WXPAY_PRIVATE_KEY_PASSWORD",
    "WXPAY_APIV3_KEY", "WXPAY_TRACEBACK", "WXPAY_LANG",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test reads or writes the developer's own config, state or home."""
    for name in WXPAY_ENV:
        monkeypatch.delenv(name, raising=False)
    # English unless a test asks for Chinese, whatever the developer's locale.
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("WXPAY_CONFIG", str(tmp_path / "config.toml"))
    yield tmp_path
    from wxpay_cli import i18n

    if i18n.current_language() != "en":  # a test that ran wxpay in Chinese: the next one starts in English
        i18n.set_language("en")
        i18n.localize_command(cli)


@pytest.fixture(scope="session")
def sandbox_keys() -> SandboxKeys:
    """RSA key generation is slow-ish: one set of keys for the whole run.

    Both certificates' serials start with 0 (0A1B…), the case `format(n, "X")`
    got wrong: every test in every role runs on it.
    """
    keys = SandboxKeys.generate(zero_led=True)
    assert keys.serial_no.startswith("0") and keys.platform_serial.startswith("0")
    assert len(keys.serial_no) == len(keys.platform_serial) == 40
    return keys


@pytest.fixture
def sandbox(sandbox_keys):
    """A fresh public-key-mode sandbox with the demo pupils."""
    with Sandbox(sandbox_keys, mode="public_key") as box:
        seed_demo(box)
        yield box


@pytest.fixture
def cert_sandbox(sandbox_keys):
    """A fresh platform-certificate-mode sandbox with the demo pupils."""
    with Sandbox(sandbox_keys, mode="certificate") as box:
        seed_demo(box)
        yield box


def write_config(tmp_path: Path, profiles: dict[str, dict], default: str | None = None) -> Path:
    path = tmp_path / "config.toml"
    document: dict = {"profiles": profiles}
    if default:
        document["default_profile"] = default
    path.write_text(tomli_w.dumps(document))
    return path


@pytest.fixture
def pupils(sandbox) -> list[str]:
    """30 more pupils of demo-org in the sandbox, p00 … p29 (named P00 … P29, in 三年级二班)."""
    return seed_pupils(sandbox, 30, class_name="三年级二班")


@pytest.fixture
def configure(tmp_path):
    """configure(sandbox, mode=None, **overrides) writes a one-profile config for it."""

    def make(box: Sandbox, mode: str | None = None, name: str = "school-a", **overrides) -> dict:
        table = profile_table(box, tmp_path / f"keys-{name}", mode=mode)
        table.update(overrides)
        write_config(tmp_path, {name: table})
        return table

    return make


@pytest.fixture
def hostile(sandbox, configure) -> Hostile:
    """The sandbox, configured, whose next answers can be planned wrong (see tests/hostile.py)."""
    configure(sandbox)
    return Hostile(sandbox)


@pytest.fixture
def local_zone(monkeypatch):
    """local_zone("Asia/Shanghai"): the local time zone for the rest of the test, whatever the machine's."""

    def set_zone(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def terminal(monkeypatch):
    """Pretend a person sits at a terminal (CliRunner's stdin is not a tty), so wxpay asks."""
    monkeypatch.setattr("wxpay_cli.terminal.prompt.interactive", lambda: True)


@pytest.fixture
def encrypted_key(tmp_path, sandbox_keys) -> Path:
    """The merchant's private key in a private file, encrypted with the passphrase "s3cret-pass"."""
    path = tmp_path / "enc_key.pem"
    path.write_bytes(private_pem(sandbox_keys.merchant_key, password="s3cret-pass"))
    path.chmod(0o600)
    return path


@pytest.fixture
def retry_sleeps() -> list[float]:
    """The back-off waits the clients asked for during `run` (none is really slept)."""
    return []


class Ran:
    """What `run` returns: click's Result (exit_code, stdout, stderr, …), and the output parsed."""

    def __init__(self, result):
        self._result = result

    def __getattr__(self, name: str):
        return getattr(self._result, name)

    @property
    def json(self):
        """stdout as one JSON document."""
        return json.loads(self.stdout)

    @property
    def lines(self) -> list:
        """stdout as JSON lines (a batch's records)."""
        return [json.loads(line) for line in self.stdout.splitlines()]

    @property
    def error(self) -> dict:
        """The JSON error line on stderr (--json), its "error" object."""
        return json.loads(self.stderr)["error"]


@pytest.fixture
def run(retry_sleeps):
    """run(*args, input=None, env=None, expect=None) invokes wxpay in-process, stdout and stderr
    apart, and fails the test, showing both, when the exit status is not `expect` (a number or
    a tuple of them). Without `expect`, any status but 70 (a bug in wxpay) is left to the test."""

    def invoke(*args: str, input: str | None = None, env: dict | None = None,
               expect: int | tuple[int, ...] | None = None) -> Ran:
        result = Ran(CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False,
                                        obj=App(retry_sleep=retry_sleeps.append)))
        allowed = (expect,) if isinstance(expect, int) else expect
        if allowed is None and result.exit_code == ExitStatus.INTERNAL or (
                allowed is not None and result.exit_code not in allowed):
            pytest.fail(f"wxpay {' '.join(args)}: exit status {result.exit_code}, expected "
                        f"{'anything but 70' if allowed is None else ' or '.join(map(str, allowed))}\n"
                        f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}")
        return result

    return invoke


@pytest.fixture
def key_files(tmp_path, sandbox_keys) -> dict[str, Path]:
    """The merchant platform's files for the session keys, as an operator downloads them."""
    return sandbox_keys.write(tmp_path / "downloads")
