"""The sandbox reads requests as HTTP/1.1 frames them: a chunked body (node's default) is
read and verified like any other; a body it cannot read, or one past its size cap, is
answered 4xx/5xx once and the connection closed, never read as the next request."""

from __future__ import annotations

import http.client
import json
import socket

import pytest

from wxpay_cli.sandbox.server import MAX_REQUEST_BYTES
from wxpay_cli.wire.signing import Signer

BODY = b'{"out_user_id":"demo","organization_id":"demo-org"}'
PATH = "/v3/offlineface/repayment-url"
USER = "/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo"


@pytest.fixture
def signer(sandbox):
    return Signer(sandbox.keys.mchid, sandbox.keys.serial_no, sandbox.keys.merchant_key)


def port(sandbox) -> int:
    return sandbox.server.server_address[1]


def test_a_chunked_post_is_verified_against_its_body_and_the_connection_goes_on(sandbox, signer):
    connection = http.client.HTTPConnection("127.0.0.1", port(sandbox), timeout=10)
    headers = {"Authorization": signer.authorization("POST", PATH, BODY), "User-Agent": "test",
               "Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    connection.request("POST", PATH, body=iter([BODY[:7], BODY[7:30], BODY[30:]]), headers=headers,
                       encode_chunked=True)
    first = connection.getresponse()
    answer = first.read()
    assert first.status == 200, answer
    assert json.loads(answer)["repayment_url"].startswith("https://")
    # The same connection answers the next request, not the rest of the first one.
    connection.request("GET", USER, headers={"Authorization": signer.authorization("GET", USER, b""),
                                             "User-Agent": "test"})
    second = connection.getresponse()
    assert second.status == 200 and json.loads(second.read())["out_user_id"] == "demo"
    connection.close()
    post, get = sandbox.received
    assert post.body == BODY and post.signature_ok and post.status == 200
    assert get.signature_ok and get.status == 200


@pytest.mark.parametrize("trailers", [1, 32])
def test_chunk_extensions_and_trailers_are_read_past(sandbox, signer, trailers):
    head = request_head(signer, "POST", PATH, BODY, "Transfer-Encoding: chunked")
    chunked = b"5;name=value\r\n" + BODY[:5] + b"\r\n" + hex_size(BODY[5:]) + b"\r\n" + BODY[5:] + b"\r\n"
    answers = exchange(sandbox, head + chunked + b"0\r\n" + b"X-Trailer: 1\r\n" * trailers + b"\r\n"
                       + request_head(signer, "GET", USER, b"", "Connection: close"))
    assert [status for status, _ in answers] == [200, 200]
    assert sandbox.received[0].body == BODY and sandbox.received[0].signature_ok


def test_chunked_with_a_content_length_too_is_read_chunked_and_the_connection_closed(sandbox, signer):
    """Both framings (a request-smuggling shape): chunked wins, and nothing more is read after it."""
    head = request_head(signer, "POST", PATH, BODY, "Transfer-Encoding: chunked", "Content-Length: 5")
    answers = exchange(sandbox, head + hex_size(BODY) + b"\r\n" + BODY + b"\r\n0\r\n\r\n",
                       then=request_head(signer, "GET", USER, b""))
    assert [status for status, _ in answers] == [200]
    [record] = sandbox.received
    assert record.body == BODY and record.signature_ok


@pytest.mark.parametrize("framing, body, status", [
    ("Transfer-Encoding: chunked", b"zz\r\nabc\r\n0\r\n\r\n", 400),  # size not hex
    ("Transfer-Encoding: chunked", b"-3\r\nabc\r\n0\r\n\r\n", 400),  # negative size
    ("Transfer-Encoding: chunked", b"3\r\nabcXY0\r\n\r\n", 400),  # no CRLF after the data
    ("Transfer-Encoding: chunked", b"3\r\nabc\r\n0\r\nnot a trailer\r\n\r\n", 400),
    ("Transfer-Encoding: chunked", b"3" * 80 + b"\r\n", 400),  # a size line no chunk needs
    ("Transfer-Encoding: chunked", f"{len(BODY):x}\r\n".encode() + BODY + b"\r\n0\r\n" + b"X-Trailer: 1\r\n" * 33
     + b"\r\n", 400),  # more trailer fields than it reads past (32), around a body that is the signed one
    ("Transfer-Encoding: chunked", f"{len(BODY):x};".encode() + b"x" * 1100 + b"\r\n" + BODY + b"\r\n0\r\n\r\n",
     400),  # a chunk-size line over 1 KiB (its extension), around the signed body
    ("Transfer-Encoding: chunked", f"{MAX_REQUEST_BYTES + 1:x}\r\n".encode(), 413),  # past the cap, never read
    ("Transfer-Encoding: chunked", f"{MAX_REQUEST_BYTES // 2 + 1:x}\r\n".encode() + b"a" * (MAX_REQUEST_BYTES // 2 + 1)
     + f"\r\n{MAX_REQUEST_BYTES // 2:x}\r\n".encode(), 413),  # past the cap in its second chunk
    ("Transfer-Encoding: gzip", b"abc", 501),  # a coding it does not read
    ("Transfer-Encoding: gzip, chunked", b"3\r\nabc\r\n0\r\n\r\n", 501),
    (f"Content-Length: {MAX_REQUEST_BYTES + 1}", b"", 413),
    ("Content-Length: 12abc", b"abc", 400),
    ("Content-Length: -1", b"abc", 400),
])
def test_a_body_it_cannot_read_is_refused_once_and_the_connection_closed(sandbox, signer, framing, body, status):
    head = request_head(signer, "POST", PATH, BODY, framing)
    answers = exchange(sandbox, head + body, then=request_head(signer, "GET", USER, b""))
    assert len(answers) == 1, answers  # nothing after it was read as a request
    [(answered, payload)] = answers
    assert answered == status, payload
    assert json.loads(payload)["code"] in ("INVALID_REQUEST", "REQUEST_ENTITY_TOO_LARGE", "NOT_IMPLEMENTED")
    [record] = sandbox.received
    assert record.status == status and not record.signature_ok


@pytest.mark.parametrize("body", [
    b"10\r\nabc",  # ends inside a chunk
    b"3\r\nabc",  # ends before the CRLF after the data
    b"3\r\nabc\r\n0\r\n",  # ends before the last CRLF
    b"3\r\nabc\r\n",  # ends before the last chunk
])
def test_a_chunked_body_cut_short_is_refused(sandbox, signer, body):
    answers = exchange(sandbox, request_head(signer, "POST", PATH, BODY, "Transfer-Encoding: chunked") + body)
    assert [status for status, _ in answers] == [400]
    assert "the body ended" in json.loads(answers[0][1])["detail"]["issue"]


# -- a client on a raw socket -------------------------------------------------------------


def hex_size(data: bytes) -> bytes:
    return f"{len(data):x}".encode()


def request_head(signer, method: str, target: str, body: bytes, *extra: str) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: test",
             f"Authorization: {signer.authorization(method, target, body)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def exchange(sandbox, data: bytes, then: bytes = b"") -> list[tuple[int, bytes]]:
    """Send `data` (then `then`, once the first answer is in, if the connection is still open)
    and read until the sandbox closes it; the (status, body) of each answer."""
    with socket.create_connection(("127.0.0.1", port(sandbox)), timeout=10) as sock:
        sock.sendall(data)
        if not then:
            sock.shutdown(socket.SHUT_WR)  # the sandbox sees the end of what was sent
        reader = sock.makefile("rb")
        answers = [read_answer(reader)]
        if then:
            try:
                sock.sendall(then)
                sock.shutdown(socket.SHUT_WR)
            except OSError:  # already closed: what a refused body should do
                pass
        while (answer := read_answer(reader)) is not None:
            answers.append(answer)
        return [a for a in answers if a is not None]


def read_answer(reader) -> tuple[int, bytes] | None:
    try:
        status_line = reader.readline()
    except ConnectionResetError:
        return None
    if not status_line:
        return None
    if not status_line.startswith(b"HTTP/1."):  # not an answer: the rest of what came, as garbage
        return 0, status_line + reader.read()
    status = int(status_line.split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return status, reader.read(length)
