"""Faults the sandbox cannot produce (reset, timeout), and retry timing, through an
httpx.MockTransport passed into the client."""

from __future__ import annotations

import httpx
import pytest

from wxpay_cli.errors import ApiError, ExitStatus, NetworkError, ServiceUnavailable
from wxpay_cli.wire.client import Client
from wxpay_cli.wire.signing import Signer, VerificationKey, Verifier


@pytest.fixture
def make_client(sandbox_keys):
    def make(handler, **kwargs):
        sleeps: list[float] = []
        client = Client(
            base_url="https://api.mch.weixin.qq.com",
            signer=Signer("1900000001", sandbox_keys.serial_no, sandbox_keys.merchant_key),
            verifier=Verifier([VerificationKey("PUB_KEY_ID_01", sandbox_keys.wechat_key.public_key(), "public_key")]),
            transport=httpx.MockTransport(handler),
            sleep=sleeps.append,
            **kwargs,
        )
        return client, sleeps

    return make


class Counter:
    def __init__(self, fault):
        self.fault, self.calls, self.authorizations = fault, [], []

    def __call__(self, request: httpx.Request):
        self.calls.append(request)
        self.authorizations.append(request.headers["Authorization"])
        if isinstance(self.fault, Exception):
            raise self.fault
        return self.fault(request)


@pytest.mark.parametrize("fault", [
    httpx.ConnectError("connection refused"),
    httpx.ReadError("connection reset by peer"),
    httpx.ReadTimeout("read timed out"),
    httpx.RemoteProtocolError("server disconnected"),
])
def test_transport_faults_are_retried_twice_then_exit_4(fault, make_client):
    handler = Counter(fault)
    client, sleeps = make_client(handler)
    with pytest.raises(NetworkError) as caught:
        client.request("POST", "/v3/offlineface/repayment-url", json_body={"a": "b"})
    assert caught.value.exit_status == ExitStatus.NETWORK
    assert len(handler.calls) == 3 and len(sleeps) == 2
    assert len(set(handler.authorizations)) == 3  # every attempt signed afresh


def test_non_idempotent_request_is_not_retried_after_a_timeout(make_client):
    handler = Counter(httpx.ReadTimeout("read timed out"))
    client, _ = make_client(handler)
    with pytest.raises(NetworkError, match="timed out"):
        client.request("POST", "/terminate", idempotent=False)
    assert len(handler.calls) == 1


def test_non_idempotent_request_is_retried_when_it_never_connected(make_client):
    handler = Counter(httpx.ConnectError("refused"))
    client, _ = make_client(handler)
    with pytest.raises(NetworkError):
        client.request("POST", "/terminate", idempotent=False)
    assert len(handler.calls) == 3


def test_non_idempotent_request_is_not_retried_on_5xx(make_client):
    handler = Counter(lambda r: httpx.Response(500, json={"code": "SYSTEM_ERROR", "message": "x"}))
    client, _ = make_client(handler)
    with pytest.raises(ServiceUnavailable):
        client.request("POST", "/terminate", idempotent=False)
    assert len(handler.calls) == 1


def test_retry_after_is_honoured_and_capped(make_client):
    answers = iter(["7", "100000"])
    handler = Counter(lambda r: httpx.Response(429, headers={"Retry-After": next(answers, "1")},
                                               json={"code": "RATELIMIT_EXCEEDED", "message": "slow down"}))
    client, sleeps = make_client(handler)
    with pytest.raises(ServiceUnavailable) as caught:
        client.request("GET", "/v3/x")
    assert sleeps == [7.0, 60.0]
    assert caught.value.code == "RATELIMIT_EXCEEDED" and caught.value.exit_status == ExitStatus.NETWORK


def test_backoff_grows_with_jitter(make_client):
    handler = Counter(lambda r: httpx.Response(502, text="bad gateway"))
    client, sleeps = make_client(handler, backoff=0.5)
    with pytest.raises(ServiceUnavailable) as caught:
        client.request("GET", "/v3/x")
    assert 0.5 <= sleeps[0] < 1.0 and 1.0 <= sleeps[1] < 1.5
    assert caught.value.message.startswith("Bad Gateway")
    assert "bad gateway" not in caught.value.message  # a non-WeChat body is not repeated


def test_4xx_is_never_retried(make_client):
    handler = Counter(lambda r: httpx.Response(400, json={"code": "PARAM_ERROR", "message": "bad", "detail": {"f": 1}},
                                               headers={"Request-ID": "R1"}))
    client, sleeps = make_client(handler)
    with pytest.raises(ApiError) as caught:
        client.request("GET", "/v3/x")
    assert caught.value.exit_status == ExitStatus.REFUSED
    assert (caught.value.code, caught.value.detail, caught.value.request_id) == ("PARAM_ERROR", {"f": 1}, "R1")
    assert len(handler.calls) == 1 and sleeps == []


def test_query_is_signed_as_sent(make_client, sandbox_keys):
    from wxpay_cli.wire.signing import parse_authorization, request_message, rsa_verify

    seen = []
    client, _ = make_client(Counter(lambda r: seen.append(r) or httpx.Response(404, json={"code": "NOT_FOUND", "message": "x"})))
    with pytest.raises(ApiError):
        client.request("GET", "/v3/offlineface/contracts/c%2F1", params={"appid": "wx 1&2"})
    request = seen[0]
    target = request.url.raw_path.decode()
    assert target == "/v3/offlineface/contracts/c%2F1?appid=wx+1%262"
    fields = parse_authorization(request.headers["Authorization"])
    message = request_message("GET", target, fields["timestamp"], fields["nonce_str"], b"")
    assert rsa_verify(sandbox_keys.merchant_key.public_key(), message, fields["signature"])


@pytest.mark.parametrize("header, expected", [("NaN", None), ("inf", None), ("soon", None), ("-5", 0.0)])
def test_odd_retry_after_falls_back_to_backoff(header, expected, make_client):
    handler = Counter(lambda r: httpx.Response(503, headers={"Retry-After": header}, json={"code": "X", "message": "y"}))
    client, sleeps = make_client(handler, backoff=0.5)
    with pytest.raises(ServiceUnavailable):
        client.request("GET", "/v3/x")
    if expected is None:
        assert 0.5 <= sleeps[0] < 1.0  # our own backoff
    else:
        assert sleeps[0] == expected


def test_retry_after_as_http_date(make_client):
    import time
    from email.utils import formatdate

    handler = Counter(lambda r: httpx.Response(429, headers={"Retry-After": formatdate(time.time() + 10, usegmt=True)},
                                               json={"code": "X", "message": "y"}))
    client, sleeps = make_client(handler)
    with pytest.raises(ServiceUnavailable):
        client.request("GET", "/v3/x")
    assert 8 <= sleeps[0] <= 11


def test_undecodable_answer_is_a_network_error(make_client):
    handler = Counter(lambda r: httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip"))
    client, _ = make_client(handler)
    with pytest.raises(NetworkError, match="could not be decoded"):
        client.request("GET", "/v3/x")


def test_non_json_error_page_is_not_shown(make_client):
    page = b"<html><a href='https://evil.example/pay'>pay here</a></html>"
    traced = []
    client, _ = make_client(Counter(lambda r: httpx.Response(403, content=page)), trace=traced.append)
    with pytest.raises(ApiError) as caught:
        client.request("GET", "/v3/x")
    assert caught.value.exit_status == ExitStatus.REFUSED and caught.value.code == "HTTP_403"
    assert "evil" not in caught.value.message and not any("evil" in line for line in traced)
    assert any("unverified body: not shown" in line for line in traced)
