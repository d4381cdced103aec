"""Proxies named in the environment, as an operator's network sets them: which calls go
through which proxy, with its credentials, and what a proxy's failure looks like."""

from __future__ import annotations

import base64
import socket
import threading
import time

import pytest
from common import at_the_deadline

from wxpay_cli.errors import ExitStatus, NetworkError, VerificationError
from wxpay_cli.wire import bounds

PROXY_VARIABLES = ("NO_PROXY", "no_proxy", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                   "ALL_PROXY", "all_proxy")


@pytest.fixture
def environment(monkeypatch):
    """environment(NAME=value, ...): exactly these proxy variables set."""
    def set_only(**variables):
        for name in PROXY_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
    return set_only


def mounted(**variables) -> dict[str, str | None]:
    return {pattern: None if transport is None else type(transport.pool).__name__
            for pattern, transport in bounds.proxy_mounts(None).items()}


def test_all_proxy_carries_every_scheme(environment):
    environment(ALL_PROXY="http://127.0.0.1:3128")
    assert mounted() == {"all://": "HTTPProxy"}


def test_a_proxy_without_a_scheme_is_an_http_proxy(environment):
    environment(HTTPS_PROXY="127.0.0.1:3128")
    transport = bounds.proxy_mounts(None)["https://"]
    assert type(transport.pool).__name__ == "HTTPProxy"


@pytest.mark.parametrize("no_proxy, direct", [
    ("example.com", "all://*example.com"),  # the domain and every host under it
    ("::1", "all://[::1]"),
    ("127.0.0.1", "all://127.0.0.1"),
    ("localhost", "all://localhost"),
])
def test_no_proxy_names_what_goes_direct(environment, no_proxy, direct):
    environment(HTTPS_PROXY="http://127.0.0.1:3128", NO_PROXY=no_proxy)
    assert mounted() == {"https://": "HTTPProxy", direct: None}


def test_no_proxy_star_means_no_proxy_at_all(environment):
    environment(HTTPS_PROXY="http://127.0.0.1:3128", NO_PROXY="*")
    assert mounted() == {}


def test_a_socks5h_proxy_is_spoken_to_as_socks():
    import httpcore

    try:
        transport = bounds.DeadlineTransport(None, proxy="socks5h://127.0.0.1:1080")
    except RuntimeError as exc:  # SOCKS it is; the optional socksio package is not installed here
        assert "socksio" in str(exc)
    else:
        assert isinstance(transport.pool, httpcore.SOCKSProxy)


class RecordingProxy:
    """A proxy on 127.0.0.1 that notes each request head it gets and answers `answer`
    (one byte every `drip` seconds when set), whatever was asked."""

    def __init__(self, answer: bytes, drip: float | None = None):
        self.answer, self.drip, self.heads = answer, drip, []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = connection.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                self.heads.append(head.partition(b"\r\n\r\n")[0].decode("latin-1"))
                try:
                    if self.drip is None:
                        connection.sendall(self.answer)
                    else:
                        for index in range(len(self.answer)):
                            connection.sendall(self.answer[index:index + 1])
                            time.sleep(self.drip)
                except OSError:
                    pass

    def close(self) -> None:
        self._listener.close()


def _client(sandbox_keys, base_url: str, timeout: float = 5.0):
    from wxpay_cli.wire.client import Client
    from wxpay_cli.wire.signing import Signer

    signer = Signer(sandbox_keys.mchid, sandbox_keys.serial_no, sandbox_keys.merchant_key)
    return Client(base_url=base_url, signer=signer, verifier=None, timeout=timeout, retries=0)


def test_a_proxys_credentials_from_the_url_are_sent_to_it(sandbox_keys, environment):
    proxy = RecordingProxy(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
    environment(HTTP_PROXY=proxy.url.replace("http://", "http://ops:s3cret@"))
    try:
        with _client(sandbox_keys, "http://127.0.0.1:9") as client, pytest.raises(VerificationError):
            client.request("GET", "/v3/certificates")  # answered by the proxy, unsigned: refused
    finally:
        proxy.close()
    credentials = base64.b64encode(b"ops:s3cret").decode()
    assert f"Proxy-Authorization: Basic {credentials}" in proxy.heads[0], proxy.heads


def test_a_proxy_refusing_the_tunnel_is_a_network_error_exit_4(sandbox_keys, environment):
    proxy = RecordingProxy(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    environment(HTTPS_PROXY=proxy.url)
    try:
        with _client(sandbox_keys, "https://127.0.0.1:9") as client, pytest.raises(NetworkError) as caught:
            client.request("GET", "/v3/certificates")
    finally:
        proxy.close()
    assert proxy.heads[0].startswith("CONNECT 127.0.0.1:9 ")
    assert caught.value.exit_status == ExitStatus.NETWORK and "ProxyError" in caught.value.message


def test_a_timeout_names_what_timed_out(sandbox_keys, environment):
    proxy = RecordingProxy(b"HTTP/1.1 200 OK\r\n" + b"X-Pad: x\r\n" * 20, drip=0.05)  # 10 s unbounded
    environment(HTTP_PROXY=proxy.url)
    started = time.monotonic()
    try:
        with _client(sandbox_keys, "http://127.0.0.1:9", timeout=0.5) as client, \
                pytest.raises(NetworkError) as caught:
            client.request("GET", "/v3/certificates")
    finally:
        proxy.close()
    elapsed = time.monotonic() - started
    assert "(ReadTimeout)" in caught.value.message, caught.value.message
    assert at_the_deadline(elapsed, 0.5), elapsed  # a proxy's answer is bounded like WeChat's


def test_the_usual_corporate_proxy_carries_an_https_call(sandbox_keys, environment, tmp_path, monkeypatch):
    """HTTPS_PROXY=http://proxy and an https:// base_url (WeChat's): a CONNECT tunnel, TLS to
    the origin inside it, the origin's certificate checked."""
    from loopback_tls import LoopbackCertificate, TlsConnectProxy, https_origin

    certificate = LoopbackCertificate(tmp_path)
    origin, served = https_origin(certificate)
    proxy = TlsConnectProxy(certificate, tls=False)
    environment(HTTPS_PROXY=proxy.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    address = f"127.0.0.1:{origin.server_address[1]}"
    try:
        with _client(sandbox_keys, f"https://{address}") as client, pytest.raises(VerificationError):
            client.request("GET", "/v3/certificates")  # carried; unsigned, so refused
    finally:
        proxy.close()
        origin.shutdown()
    assert proxy.targets == [address] and served == ["/v3/certificates"]
