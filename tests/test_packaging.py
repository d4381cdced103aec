"""The installed `wxpay` as a user runs it: console script, `python -m`, start-up
imports and help texts (docs coverage: test_docs.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from common import ROOT, commands
from terminal import wxpay_script

from wxpay_cli import __version__


def wxpay(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([wxpay_script(), *args], capture_output=True, text=True, timeout=60, input=input,
                          env={**os.environ, **(env or {})})


def test_readme_first_command_prints_a_sandbox_link():
    result = wxpay("--sandbox", "repayment-url", "--user", "demo", "--org", "demo-org")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)  # stdout is a pipe here, so JSON
    assert data["repayment_url"].startswith("https://wxpay-sandbox.invalid/")  # https and a named host, like WeChat's
    assert "sandbox" in result.stderr


def test_exit_codes_from_the_real_process(tmp_path):
    assert wxpay("repayment-url", "--user", "", "--org", "x").returncode == 2
    missing = wxpay("repayment-url", "--user", "a", "--org", "b", env={"WXPAY_CONFIG": str(tmp_path / "none.toml")})
    assert missing.returncode == 3 and "Traceback" not in missing.stderr and missing.stdout == ""


def test_python_dash_m_and_version():
    result = subprocess.run([sys.executable, "-m", "wxpay_cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.strip() == f"wxpay {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["--version"], *([*path, "--help"] for path, _ in commands())],
                         ids=lambda argv: " ".join(argv))
def test_help_does_not_import_heavy_modules(argv):
    code = (
        "import sys\n"
        "from wxpay_cli.cli import cli\n"
        f"try:\n    cli.main({argv!r}, prog_name='wxpay')\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('httpx', 'rich', 'cryptography', 'openpyxl') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "pip install -e '.[test]' && pytest"
    assert command in readme and command in ci


def test_sandbox_serve_prints_a_profile_scripts_can_use(tmp_path):
    import signal
    import tomllib

    server = subprocess.Popen([wxpay_script(), "sandbox", "serve", "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        ready = server.stderr.readline()
        assert "sandbox listening on http://127.0.0.1:" in ready, ready
        config = Path(ready.rsplit("profile written to ", 1)[1].strip())
        profile = tomllib.loads(config.read_text())["profiles"]["sandbox"]
        assert profile["base_url"] in ready and profile["public_key_id"].startswith("PUB_KEY_ID_")
        assert oct(config.stat().st_mode & 0o777) == "0o600"
        result = wxpay("repayment-url", "--user", "demo", "--org", "demo-org", env={"WXPAY_CONFIG": str(config)})
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["repayment_url"].startswith("https://wxpay-sandbox.invalid/sandbox/repay/")
    finally:
        server.send_signal(signal.SIGINT)
        out, _ = server.communicate(timeout=10)
    assert server.returncode == 0
    assert tomllib.loads(out)["default_profile"] == "sandbox"  # stdout carried the profile
    assert not config.exists()  # its keys are cleaned up
