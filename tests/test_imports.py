"""What importing the clients costs, and that it changes nothing for other code.

- A batch request must not try to import anything: httpcore asks for `sniffio`
  on every request, and when it is missing each ask walks sys.path (about 1 ms
  of CPU per row, measured). `sniffio` is a declared dependency for that.
- `wxpay_cli.wire.client` loads httpx without httpx's own CLI (rich, pygments);
  `httpx.main` must still be httpx's CLI, in the same process, and an httpx
  that no longer loads its CLI the way wxpay expects is refused at start.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

from wxpay_cli.sandbox.keys import SandboxKeys
from wxpay_cli.wire import api
from wxpay_cli.wire.aclient import AsyncClient
from wxpay_cli.wire.signing import Signer, VerificationKey, Verifier


class ImportRecorder:
    """A meta path finder that notes every module the import system goes looking for."""

    def __init__(self):
        self.wanted: list[str] = []

    def find_spec(self, name, path=None, target=None):
        self.wanted.append(name)
        return None


def _async_client(box, keys: SandboxKeys) -> AsyncClient:
    return AsyncClient(
        base_url=box.url,
        signer=Signer(keys.mchid, keys.serial_no, keys.merchant_key),
        verifier=Verifier([VerificationKey(keys.public_key_id, keys.wechat_key.public_key(), "public_key")]),
        concurrency=4,
    )


def test_batch_requests_import_nothing(sandbox, sandbox_keys):
    async def go(recorder: ImportRecorder) -> list:
        client = _async_client(sandbox, sandbox_keys)
        call = api.repayment_url(out_user_id="demo", organization_id="demo-org")
        try:
            await client.call(call)  # the first request may import what it needs once
            sys.meta_path.insert(0, recorder)
            try:
                return await asyncio.gather(*(client.call(call) for _ in range(6)))
            finally:
                sys.meta_path.remove(recorder)
        finally:
            await client.aclose()

    recorder = ImportRecorder()
    answers = asyncio.run(go(recorder))
    assert len(answers) == 6
    assert recorder.wanted == [], f"each batch request looks for modules: {sorted(set(recorder.wanted))}"


def _run(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


def test_client_import_skips_httpx_cli_but_httpx_main_still_works():
    """wxpay's start-up does not load httpx's CLI (rich, pygments), yet `httpx.main`, httpx's
    public entry to it, still runs that CLI for any other code in the process."""
    result = _run("""
        import sys
        import wxpay_cli.wire.client
        print("rich" in sys.modules, "pygments" in sys.modules)
        import httpx
        try:
            httpx.main(["--help"], prog_name="httpx", standalone_mode=False)
        except SystemExit:
            pass
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "False False"  # the placeholder still works with the httpx installed
    assert "Usage: httpx" in result.stdout  # and httpx.main runs the real CLI


def test_an_httpx_that_no_longer_takes_the_placeholder_is_exit_3_not_a_slow_surprise(tmp_path, sandbox, configure):
    """A release of httpx that loads its CLI some other way is refused with one clear line
    (exit 3), never used half-understood. The stand-in httpx is written by the test."""
    package = tmp_path / "httpx"
    package.mkdir()
    (package / "__init__.py").write_text('__version__ = "0.99.0"\n\ndef main():\n    pass\n')
    configure(sandbox)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *filter(None, sys.path)])}
    result = subprocess.run([sys.executable, "-m", "wxpay_cli", "repayment-url", "--user", "demo", "--org",
                             "demo-org"], capture_output=True, text=True, timeout=60, env=environment)
    assert result.returncode == 3, result.stderr
    assert "this release of httpx is not supported: 0.99.0" in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.received == []


def test_batch_pools_stay_small_and_share_one_verifying_tls_context(sandbox_keys, monkeypatch):
    """What the batch client asks httpx for (recorded at httpx's public constructor): pools of
    at most POOL_SIZE connections, 32 in all, and one verifying TLS context for every pool."""
    import ssl
    import types

    import httpx

    from wxpay_cli.wire import aclient
    from wxpay_cli.wire.aclient import POOL_SIZE

    asked: list[dict] = []

    def recording(**options):
        asked.append(options)
        return httpx.AsyncClient(**options)

    # wxpay's own name for httpx, pointed at a stand-in whose AsyncClient records (httpx is untouched)
    standin = types.SimpleNamespace(**{name: getattr(httpx, name) for name in httpx.__all__})
    standin.AsyncClient = recording
    monkeypatch.setattr(aclient, "httpx", standin)

    async def go():
        client = AsyncClient(base_url="https://api.mch.weixin.qq.com",
                             signer=Signer("1900000001", sandbox_keys.serial_no, sandbox_keys.merchant_key),
                             verifier=None, concurrency=32)
        await client.aclose()

    asyncio.run(go())
    sizes = [options["limits"].max_connections for options in asked]
    assert sum(sizes) == 32 and max(sizes) <= POOL_SIZE <= 4  # httpcore's per-request scans stay short
    contexts = {id(options["verify"]) for options in asked}
    assert len(contexts) == 1
    context = asked[0]["verify"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_openpyxl_is_imported_only_for_a_workbook(sandbox, configure, tmp_path):
    """Start-up and a CSV batch cost what they did before workbooks were read: openpyxl is
    imported only when a workbook is (`python -X importtime` lists every import)."""
    from batchrows import csv_rows, workbook

    configure(sandbox)

    def imported(*args: str, **kwargs) -> str:
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "wxpay_cli", *args], capture_output=True,
                                text=True, timeout=60, **kwargs)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stderr

    assert "openpyxl" not in imported("--help")
    assert "openpyxl" not in imported("user", "show", "--batch", "-", input=csv_rows(["demo"]))
    path = workbook(tmp_path / "名单.xlsx", [["out_user_id", "organization_id"], ["demo", "demo-org"]])
    assert "openpyxl" in imported("user", "show", "--batch", str(path))
