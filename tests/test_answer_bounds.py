"""Bounds on an answer, checked piece by piece: the deadline after it has passed, over TLS,
and what is kept of an answer once its body is read."""

from __future__ import annotations

import time

import httpx
import pytest
from common import at_the_deadline

from wxpay_cli.errors import ExitStatus, NetworkError, VerificationError
from wxpay_cli.wire import bounds


def test_after_the_deadline_every_wait_is_a_tiny_one_never_an_error_of_its_own():
    token = bounds.DEADLINE.set(time.monotonic() - 1)
    try:
        assert 0 < bounds._bounded(5.0) <= 0.001 and 0 < bounds._bounded(None) <= 0.001
    finally:
        bounds.DEADLINE.reset(token)


def test_an_https_server_dripping_its_headers_ends_at_the_deadline(sandbox_keys, tmp_path, monkeypatch):
    from loopback_tls import LoopbackCertificate, https_origin

    from wxpay_cli.wire.client import Client
    from wxpay_cli.wire.signing import Signer

    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    certificate = LoopbackCertificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    origin, served = https_origin(certificate, drip=0.05)  # ~200 bytes: 10 s unbounded
    signer = Signer(sandbox_keys.mchid, sandbox_keys.serial_no, sandbox_keys.merchant_key)
    started = time.monotonic()
    try:
        with Client(base_url=f"https://127.0.0.1:{origin.server_address[1]}", signer=signer, verifier=None,
                    timeout=0.5, retries=0) as client, pytest.raises(NetworkError) as caught:
            client.request("GET", "/v3/certificates")
    finally:
        origin.shutdown()
    elapsed = time.monotonic() - started
    assert served == ["/v3/certificates"] and caught.value.exit_status == ExitStatus.NETWORK
    assert at_the_deadline(elapsed, 0.5), elapsed


def test_a_kept_answer_keeps_the_servers_reason_phrase():
    received = httpx.Response(418, stream=httpx.ByteStream(b""), extensions={"reason_phrase": b"Short and Stout"},
                              request=httpx.Request("GET", "http://127.0.0.1/"))
    assert bounds.keep_body(received, b"{}").reason_phrase == "Short and Stout"


def test_an_answer_already_in_memory_is_held_to_the_same_cap():
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * (bounds.MAX_ANSWER_BYTES + 1)))
    with httpx.Client(transport=transport) as http, pytest.raises(VerificationError, match="larger than"):
        bounds.send(http, http.build_request("GET", "http://127.0.0.1/"), 5.0)


def test_an_answer_of_exactly_the_cap_is_kept_in_memory_or_inflated():
    """1 MiB exactly is within the cap, whether it came whole or compressed."""
    import gzip

    exact = b"x" * bounds.MAX_ANSWER_BYTES
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=exact))
    with httpx.Client(transport=transport) as http:
        assert bounds.send(http, http.build_request("GET", "http://127.0.0.1/"), 5.0).content == exact
    compressed = httpx.Response(200, headers={"Content-Encoding": "gzip"},
                                request=httpx.Request("GET", "https://x/"))
    reader = bounds.BodyReader(compressed, deadline=time.monotonic() + 60)
    reader.feed(gzip.compress(exact))
    assert reader.finish() == exact


def test_wxpay_asks_only_for_encodings_it_can_read(sandbox, configure, run):
    configure(sandbox)
    assert run("user", "show", "--user", "demo", "--org", "demo-org", "--json").exit_code == 0
    assert sandbox.received[0].headers["Accept-Encoding"] == "gzip, deflate"
