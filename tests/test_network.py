"""Where a call goes and over what: https only (plain http on loopback alone, no credentials in
the URL, the certificate verified), no redirect followed, proxies from the environment (and
NO_PROXY) honoured with the deadline still holding, an idle connection not reused too late."""

from __future__ import annotations

import time

import pytest
from common import at_the_deadline, client_for, no_traceback, refused
from hostile import USER_PATH
from loopback_tls import LoopbackCertificate, TlsConnectProxy, https_origin

from wxpay_cli.errors import ExitStatus, NetworkError, VerificationError
from wxpay_cli.wire import api
from wxpay_cli.wire.client import Client
from wxpay_cli.wire.signing import Signer


def test_a_redirect_is_not_followed(sandbox, hostile, run):
    target = f"{sandbox.url}/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo-2"
    hostile.raw(USER_PATH, 302, headers={"Location": target})
    result = run("user", "show", "--user", "demo", "--org", "demo-org")
    no_traceback(result)
    assert result.exit_code != 0 and result.stdout == ""
    assert len(sandbox.received) == 1


@pytest.mark.parametrize("name, value, words", [
    ("ALL_PROXY", "socks5://127.0.0.1:1080", "SOCKS"),
    ("HTTPS_PROXY", "ftp://proxy.example:21", "kind"),
    ("HTTP_PROXY", "http://[::1", "not a usable proxy"),
    ("https_proxy", "http://proxy.example:notaport", "not a usable proxy"),
])
def test_a_proxy_that_cannot_work_is_exit_3_naming_the_variable(sandbox, configure, run, name, value, words):
    configure(sandbox)
    result = run("user", "show", "--user", "demo", "--org", "demo-org", env={name: value})
    refused(result, ExitStatus.CONFIG, name, words)
    assert sandbox.received == []


@pytest.mark.parametrize("url", ["http://api.mch.weixin.qq.com", "http://10.0.0.1:8080", "http://127.0.0.1.evil.example"])
def test_plain_http_is_refused_except_on_loopback(sandbox, configure, run, url):
    configure(sandbox, base_url=url)
    refused(run("user", "show", "--user", "demo", "--org", "demo-org"), ExitStatus.CONFIG, "https")


def test_plain_http_on_loopback_is_the_sandbox(sandbox, configure, run):
    configure(sandbox, base_url=sandbox.url.replace("127.0.0.1", "localhost"))
    assert run("user", "show", "--user", "demo", "--org", "demo-org").exit_code == 0


def test_a_base_url_with_credentials_is_refused_without_echoing_them(sandbox, configure, run):
    configure(sandbox, base_url="https://operator:hunter2@api.mch.weixin.qq.com")
    result = run("user", "show", "--user", "demo", "--org", "demo-org")
    refused(result, ExitStatus.CONFIG, "base_url")
    assert "hunter2" not in result.stderr and "operator:" not in result.stderr


class LoopbackProxy:
    """An HTTP proxy on 127.0.0.1 for one test: it notes each request line it gets and either
    relays the request to its target (`drip=None`) or answers one byte every `drip` s."""

    def __init__(self, drip: float | None = None):
        import socket
        import threading

        self.drip, self.request_lines, self._stop = drip, [], threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import socket

        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += connection.recv(65536)
                head, _, rest = request.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(rest) < length:
                    rest += connection.recv(65536)
                line = head.split(b"\r\n")[0].decode()
                self.request_lines.append(line)
                if self.drip is not None:
                    answer = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: x\r\n" * 20  # 217 bytes: 11 s unbounded
                    for index in range(len(answer)):
                        if self._stop.is_set():
                            return
                        try:
                            connection.sendall(answer[index:index + 1])
                        except OSError:
                            break
                        time.sleep(self.drip)
                    continue
                from urllib.parse import urlsplit

                target = urlsplit(line.split()[1])
                origin_form = line.replace(f"{target.scheme}://{target.netloc}", "", 1).encode()
                with socket.create_connection((target.hostname, target.port), timeout=5) as upstream:
                    upstream.sendall(origin_form + b"\r\n" + head.split(b"\r\n", 1)[1]
                                     .replace(b"Connection: keep-alive", b"Connection: close")
                                     + b"\r\nConnection: close\r\n\r\n" + rest)
                    while chunk := upstream.recv(65536):
                        connection.sendall(chunk)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()


@pytest.fixture
def proxy_env(monkeypatch):
    """proxy_env(drip=None) starts a LoopbackProxy and names it in HTTP_PROXY (NO_PROXY empty)."""
    started = []

    def make(drip: float | None = None) -> LoopbackProxy:
        proxy = LoopbackProxy(drip)
        started.append(proxy)
        for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        return proxy

    yield make
    for proxy in started:
        proxy.close()


def test_a_proxy_from_the_environment_carries_the_call(sandbox, configure, run, proxy_env):
    configure(sandbox)
    proxy = proxy_env()
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert result.json["out_user_id"] == "demo"
    assert len(proxy.request_lines) == 1 and proxy.request_lines[0].startswith(f"GET {sandbox.url}/v3/")


def test_a_proxy_dripping_its_headers_ends_at_the_deadline(sandbox, sandbox_keys, proxy_env):
    proxy = proxy_env(drip=0.05)  # each byte well within the read timeout
    started = time.monotonic()
    with client_for(sandbox, sandbox_keys, timeout=0.5) as client, pytest.raises(NetworkError) as caught:
        client.call(api.get_user(organization_id="demo-org", out_user_id="demo"))
    elapsed = time.monotonic() - started
    assert caught.value.exit_status == ExitStatus.NETWORK and "timed out" in caught.value.message
    assert proxy.request_lines and at_the_deadline(elapsed, 0.5), elapsed


def test_no_proxy_keeps_the_sandbox_direct(sandbox, configure, run, proxy_env, monkeypatch):
    configure(sandbox)
    proxy = proxy_env(drip=0.05)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert run("user", "show", "--user", "demo", "--org", "demo-org").exit_code == 0
    assert proxy.request_lines == []


@pytest.mark.parametrize("drip", [None, 0.05])
def test_an_https_proxy_carries_the_call_and_its_tunnel_ends_at_the_deadline(sandbox_keys, tmp_path,
                                                                              monkeypatch, drip):
    """TLS inside TLS (an https:// proxy, then the origin's TLS through the tunnel): the
    origin's bytes dripped through the tunnel stop at the deadline like any other wait."""
    certificate = LoopbackCertificate(tmp_path)
    origin, served = https_origin(certificate)
    proxy = TlsConnectProxy(certificate, drip=drip)
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "HTTP_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))  # trusted for the proxy and the origin alike
    signer = Signer(sandbox_keys.mchid, sandbox_keys.serial_no, sandbox_keys.merchant_key)
    origin_url = f"https://127.0.0.1:{origin.server_address[1]}"
    started = time.monotonic()
    try:
        with Client(base_url=origin_url, signer=signer, verifier=None, timeout=0.5, retries=0) as client:
            if drip is None:  # carried: the origin's answer reached wxpay (and, unsigned, was refused)
                with pytest.raises(VerificationError, match="no key to verify"):
                    client.request("GET", "/v3/certificates")
                assert served == ["/v3/certificates"]
            else:
                with pytest.raises(NetworkError) as caught:
                    client.request("GET", "/v3/certificates")
                assert "timed out" in caught.value.message, caught.value.message
    finally:
        proxy.close()
        origin.shutdown()
    elapsed = time.monotonic() - started
    assert proxy.targets == [origin_url.removeprefix("https://")]
    assert elapsed < 1.0 if drip is None else at_the_deadline(elapsed, 0.5), elapsed


def test_an_idle_connection_is_not_reused_after_its_keep_alive_expiry(sandbox_keys, monkeypatch):
    """`contract terminate` looks up, waits at the question (minutes, perhaps), then POSTs: a
    connection idle that long may be dead in a NAT, and a POST into it ends as an open outcome.
    Past KEEPALIVE_EXPIRY seconds idle, a new connection is made."""
    import http.server
    import threading

    from wxpay_cli.wire import bounds

    peers = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            peers.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(bounds, "KEEPALIVE_EXPIRY", 0.3)
    signer = Signer(sandbox_keys.mchid, sandbox_keys.serial_no, sandbox_keys.merchant_key)
    try:
        with Client(base_url=f"http://127.0.0.1:{server.server_address[1]}", signer=signer, verifier=None,
                    retries=0) as client:
            for pause in (0, 0, 0.5):
                time.sleep(pause)
                with pytest.raises(VerificationError):  # unsigned: refused, but the connection is what counts
                    client.request("GET", "/v3/certificates")
    finally:
        server.shutdown()
    assert peers[0] == peers[1] != peers[2], peers  # reused at once; a new one after the expiry


def test_https_keeps_certificate_verification(sandbox_keys, tmp_path):
    """An https base URL verifies the server's certificate: one nobody trusts is a connection
    that never carried the request (exit 4), whatever it would have answered."""
    server, served = https_origin(LoopbackCertificate(tmp_path))  # a certificate nobody trusts
    signer = Signer("1900000001", sandbox_keys.serial_no, sandbox_keys.merchant_key)
    try:
        with Client(base_url=f"https://127.0.0.1:{server.server_address[1]}", signer=signer, verifier=None,
                    retries=0) as client, pytest.raises(NetworkError) as caught:
            client.request("GET", "/v3/certificates")
    finally:
        server.shutdown()
    assert caught.value.never_sent and "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert served == []
