"""What importing the clients costs, and that it changes nothing for other code.

- A batch request must not try to import anything: httpcore asks for `sniffio`
  on every request, and when it is missing each ask walks sys.path (about 1 ms
  of CPU per row, measured). `sniffio` is a declared dependency for that.
- `wxpay_cli.client` loads httpx without httpx's own CLI (rich, pygments) and
  defers trio; httpx must still work under trio, and `httpx.main` must still
  be httpx's CLI, in the same process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

import pytest

from wxpay_cli import api
from wxpay_cli.aclient import AsyncClient
from wxpay_cli.sandbox.keys import SandboxKeys
from wxpay_cli.signing import Signer, VerificationKey, Verifier


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
    result = _run("""
        import sys
        import wxpay_cli.client
        print("rich" in sys.modules, "pygments" in sys.modules, "httpx._main" in sys.modules)
        import httpx
        import httpx._main
        print(httpx._main.main.__class__.__name__, httpx.main is not httpx._main.main)
        try:
            httpx.main(["--help"], prog_name="httpx", standalone_mode=False)
        except SystemExit:
            pass
    """)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "False False False"  # the trick still works with the httpx installed
    assert lines[1] == "Command True"  # the real CLI is there once asked for
    assert "Usage: httpx" in result.stdout  # and httpx.main runs it


# An async library httpx runs on: what to import for the check, and an expression (inside
# the running loop) that holds only when that library's own code really ran.
ASYNC_LIBRARIES = {
    "trio": ("import trio.lowlevel", "trio.lowlevel.current_task().name is not None"),
    "anyio": ("import anyio.abc", "(await anyio.sleep(0)) is None and isinstance(anyio.abc.ByteStream, type)"),
}


@pytest.mark.parametrize("library", sorted(ASYNC_LIBRARIES))
def test_httpx_still_works_under_a_deferred_async_library_after_importing_the_client(sandbox, library):
    """trio and anyio are deferred, not removed: httpx runs under them as usual, in the same
    process (a test extra missing makes this fail, not skip)."""
    imports, ran = ASYNC_LIBRARIES[library]
    result = _run(f"""
        import sys
        import wxpay_cli.client
        print("{library}._core" in sys.modules)  # deferred, not loaded
        import httpx
        import {library}
        {imports}

        async def main():
            async with httpx.AsyncClient() as http:
                answer = await http.get("{sandbox.url}/v3/certificates")
                print(answer.status_code, {ran})

        {library}.run(main)
    """)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first == "False"
    assert second.split()[1] == "True" and second.split()[0].isdigit()
    assert any(r.path.startswith("/v3/certificates") for r in sandbox.received)


def test_batch_pools_stay_small_and_share_one_verifying_tls_context(sandbox_keys):
    import ssl

    from wxpay_cli.aclient import POOL_SIZE

    async def go():
        client = AsyncClient(base_url="https://api.mch.weixin.qq.com",
                             signer=Signer("1900000001", sandbox_keys.serial_no, sandbox_keys.merchant_key),
                             verifier=None, concurrency=32)
        try:
            pools = [pool._transport._pool for pool in client._pools]
            return [pool._max_connections for pool in pools], {id(pool._ssl_context) for pool in pools}, pools
        finally:
            await client.aclose()

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no deprecated httpx call on the way
        sizes, contexts, pools = asyncio.run(go())
    assert sum(sizes) == 32 and max(sizes) <= POOL_SIZE <= 4  # httpcore's per-request scans stay short
    assert len(contexts) == 1
    context = pools[0]._ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_a_single_call_never_runs_anyio_certifi_or_idna(sandbox, configure):
    """What a single, synchronous call to an http:// server never uses, it must not pay for:
    anyio (about 20 ms to import) serves only async code, certifi's CA bundle only TLS,
    idna only host names that are not ASCII."""
    configure(sandbox)
    # -S: no .pth file of this machine's Python runs (one may load certifi at start-up, which
    # would hide what wxpay loads); the same sys.path is given explicitly instead.
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    result = subprocess.run([sys.executable, "-S", "-X", "importtime", "-m", "wxpay_cli", "repayment-url",
                             "--user", "demo", "--org", "demo-org"], capture_output=True, text=True, timeout=60,
                            env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "repayment_url" in result.stdout
    loaded = [line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    assert "httpcore" in loaded  # the measure is sound: the call did import httpcore
    assert not [name for name in loaded if name == "anyio" or name.startswith(("anyio.", "trio."))]
    assert not [name for name in loaded if name.startswith(("certifi", "idna", "importlib.resources"))]


def test_a_deferred_module_may_change_its_own_class():
    """trio makes itself a module subclass that still serves its deprecated names (with a
    warning): deferring it must not undo that, even when such a name is its first use."""
    import trio  # noqa: F401  a test extra: missing, the test fails rather than skips

    result = _run("""
        import warnings
        import wxpay_cli.client
        import trio

        with warnings.catch_warnings(record=True) as caught:  # its first use loads it
            warnings.simplefilter("always")
            print(trio.MultiError.__name__, [w.category.__name__ for w in caught])
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["MultiError", "['TrioDeprecationWarning']"]


def test_certifi_and_idna_still_work_after_importing_the_client():
    """Deferred is not removed: TLS still verifies against certifi's bundle, and a host
    name that is not ASCII is still encoded by idna, for wxpay and any other code."""
    result = _run("""
        import ssl
        import sys
        import wxpay_cli.client
        print("idna.core" in sys.modules)  # deferred, not loaded (certifi may be loaded by a .pth at start-up)
        import certifi
        import httpx
        import idna

        with httpx.Client() as http:  # https: verifies with certifi's bundle, as httpx does by default
            context = http._transport._pool._ssl_context
            print(context.verify_mode == ssl.CERT_REQUIRED, len(context.get_ca_certs()) > 50)
        print(certifi.where().endswith(".pem"), idna.encode("例子.测试").decode())
        print(httpx.URL("https://例子.测试/v3").host, httpx.URL("https://例子.测试/v3").raw_host.decode())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "False",
        "True True",
        "True xn--fsqu00a.xn--0zwm56d",
        "例子.测试 xn--fsqu00a.xn--0zwm56d",
    ]


def test_a_deferred_module_first_used_by_two_threads_at_once_works_in_both(tmp_path, monkeypatch):
    """Two threads building their first https client at once both use certifi: the one
    that comes second must wait for the module to finish loading, as with a plain
    `import`, not find it half run ("module 'certifi' has no attribute 'where'")."""
    import threading
    import time
    import types

    from wxpay_cli import httpx_loading

    gate = types.ModuleType("wxpay_test_gate")
    gate.loading, gate.go_on = threading.Event(), threading.Event()
    monkeypatch.setitem(sys.modules, "wxpay_test_gate", gate)
    (tmp_path / "wxpay_test_slow.py").write_text(
        "import wxpay_test_gate\nwxpay_test_gate.loading.set()\nwxpay_test_gate.go_on.wait(30)\nwhere = 'bundle'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "wxpay_test_slow", raising=False)
    httpx_loading._register_lazily("wxpay_test_slow")
    module = sys.modules["wxpay_test_slow"]
    got: dict[str, str] = {}

    def use(who: str) -> None:
        try:
            got[who] = module.where
        except AttributeError as exc:
            got[who] = f"AttributeError: {exc}"

    first = threading.Thread(target=use, args=("first",))
    first.start()
    assert gate.loading.wait(30)  # the first thread is running the module's code now
    second = threading.Thread(target=use, args=("second",))
    second.start()
    deadline = time.monotonic() + 30
    while second.is_alive() and not _inside(second, "__getattr__") and time.monotonic() < deadline:
        time.sleep(0.001)  # until the second thread has failed, or waits for the first
    gate.go_on.set()
    first.join(30)
    second.join(30)
    assert got == {"first": "bundle", "second": "bundle"}


def _inside(thread, function: str) -> bool:
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False
