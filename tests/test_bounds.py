"""Every wait and every answer has a bound: an answer dripped byte by byte ends at the
deadline (one call, a batch, Ctrl-C), a body is capped raw and inflated, JSON nested deeper
than Python's recursion limit is a clean failure, and an unverified error page is capped."""

from __future__ import annotations

import json
import time

import pytest
from common import at_the_deadline, client_for, no_traceback, refused, terminations
from hostile import LINK_PATH, USER_PATH, Hostile, bomb

from wxpay_cli.errors import ApiError, ExitStatus, NetworkError, VerificationError
from wxpay_cli.wire import api

# -- in time -----------------------------------------------------------------------------


def test_a_dripped_body_ends_at_the_deadline_exit_4(sandbox, sandbox_keys, hostile):
    hostile.drip(USER_PATH, 0.2)  # ~300 bytes: a minute unbounded
    started = time.monotonic()
    with client_for(sandbox, sandbox_keys, timeout=0.5) as client, pytest.raises(NetworkError) as caught:
        client.call(api.get_user(organization_id="demo-org", out_user_id="demo"))
    elapsed = time.monotonic() - started
    assert caught.value.exit_status == ExitStatus.NETWORK and "timed out" in caught.value.message
    assert at_the_deadline(elapsed, 0.5), elapsed


def test_a_dripped_answer_is_exit_4_on_the_command_line(sandbox, configure, run):
    configure(sandbox, timeout=0.2)
    hostile = Hostile(sandbox)
    for _ in range(3):  # the first try and both retries (their waits are not slept in tests)
        hostile.drip(USER_PATH, 0.05)  # each byte well within the read timeout
    result = run("user", "show", "--user", "demo", "--org", "demo-org")
    refused(result, ExitStatus.NETWORK, "timed out")


def test_dripped_headers_end_at_the_deadline_exit_4(sandbox, sandbox_keys, hostile):
    hostile.drip(USER_PATH, 0.2, headers=True)  # each byte well within the read timeout
    started = time.monotonic()
    with client_for(sandbox, sandbox_keys, timeout=0.5) as client, pytest.raises(NetworkError) as caught:
        client.call(api.get_user(organization_id="demo-org", out_user_id="demo"))
    elapsed = time.monotonic() - started
    assert caught.value.exit_status == ExitStatus.NETWORK
    assert at_the_deadline(elapsed, 0.5), elapsed


@pytest.mark.parametrize("headers", [False, True], ids=["body", "headers"])
def test_a_dripped_answer_ends_at_the_deadline_in_batch_too(sandbox, sandbox_keys, hostile, headers):
    import asyncio

    from wxpay_cli.wire.aclient import AsyncClient

    hostile.drip(USER_PATH, 0.2, headers=headers)
    client_args = client_for(sandbox, sandbox_keys, 0.5)

    async def go():
        client = AsyncClient(base_url=sandbox.url, signer=client_args.signer, verifier=client_args.verifier,
                             timeout=0.5, retries=0)
        try:
            await client.call(api.get_user(organization_id="demo-org", out_user_id="demo"))
        finally:
            await client.aclose()

    started = time.monotonic()
    with pytest.raises(NetworkError):
        asyncio.run(go())
    elapsed = time.monotonic() - started
    assert at_the_deadline(elapsed, 0.5), elapsed


def test_a_batch_stuck_on_dripped_answers_stops_on_ctrl_c(sandbox, configure, tmp_path):
    import os
    import signal
    import subprocess

    from terminal import wxpay_script

    configure(sandbox, timeout=0.5)
    hostile = Hostile(sandbox)
    for _ in range(12):
        hostile.drip(USER_PATH, 0.2)  # every attempt of every row: a minute each, unbounded
    wxpay = wxpay_script()
    proc = subprocess.Popen([wxpay, "user", "show", "--batch", "-", "--concurrency", "2"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    proc.stdin.write("out_user_id,organization_id\ndemo,demo-org\ndemo-2,demo-org\ndemo,demo-org\n")
    proc.stdin.close()
    proc.stdin = None
    deadline = time.monotonic() + 15
    while not sandbox.received and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sandbox.received, "the batch never sent anything"
    proc.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    # The rows in flight end with their attempt's deadline (0.5 s), not with their retries'.
    assert time.monotonic() - interrupted < 0.5 + 2.0
    assert "Traceback" not in err
    for line in out.splitlines():
        assert "error" in json.loads(line)


# -- in size ----------------------------------------------------------------------------


def test_a_gzip_encoded_answer_is_inflated_verified_and_used(hostile, sandbox, run):
    hostile.gzipped(USER_PATH)
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert result.json["out_user_id"] == "demo"
    assert len(sandbox.received) == 1  # the compressed answer itself was used, not a retry's


def test_a_gzip_bomb_is_refused_without_inflating_it(hostile, run):
    hostile.gzip_bomb(USER_PATH)
    result = run("user", "show", "--user", "demo", "--org", "demo-org")
    refused(result, ExitStatus.VERIFICATION, "larger than")


def test_the_size_cap_holds_while_inflating():
    import httpx

    from wxpay_cli.wire import bounds

    response = httpx.Response(200, headers={"Content-Encoding": "gzip"}, request=httpx.Request("GET", "https://x/"))
    reader = bounds.BodyReader(response, deadline=time.monotonic() + 60)
    data = bomb()
    with pytest.raises(VerificationError):
        for start in range(0, len(data), 65536):
            reader.feed(data[start:start + 65536])
    assert len(reader._out) <= bounds.MAX_ANSWER_BYTES + 1


def test_raw_bytes_are_capped_even_when_they_inflate_to_little():
    """Junk after a gzip stream is never inflated (zlib keeps it aside): the raw count stops it."""
    import gzip

    import httpx

    from wxpay_cli.wire import bounds

    response = httpx.Response(200, headers={"Content-Encoding": "gzip"}, request=httpx.Request("GET", "https://x/"))
    reader = bounds.BodyReader(response, deadline=time.monotonic() + 60)
    reader.feed(gzip.compress(b'{"user_id": "u"}'))
    with pytest.raises(VerificationError, match="larger than"):
        for _ in range(40):
            reader.feed(b"\0" * 65536)


def test_a_chunk_after_the_deadline_ends_the_answer():
    """Between chunks too (a transport without a connection pool, like a test's, has no other bound)."""
    import httpx

    from wxpay_cli.wire import bounds

    response = httpx.Response(200, request=httpx.Request("GET", "https://x/"))
    reader = bounds.BodyReader(response, deadline=time.monotonic() - 1)
    with pytest.raises(httpx.ReadTimeout):
        reader.feed(b"{")


def test_a_large_plain_answer_is_refused(hostile, run):
    hostile.signed(USER_PATH, b'{"user_id": "' + b"x" * (2 << 20) + b'"}')
    refused(run("user", "show", "--user", "demo", "--org", "demo-org"), ExitStatus.VERIFICATION, "larger than")


def test_an_answer_of_exactly_the_cap_is_read(hostile, run):
    """The cap is 1 MiB: an answer of exactly 1 MiB (its Content-Length too) is WeChat's to send."""
    from wxpay_cli.wire.bounds import MAX_ANSWER_BYTES

    head = b'{"out_user_id": "demo", "organization_id": "demo-org", "user_id": "wxu_1", "note": "'
    body = head + b"x" * (MAX_ANSWER_BYTES - len(head) - 2) + b'"}'
    assert len(body) == MAX_ANSWER_BYTES
    hostile.signed(USER_PATH, body)
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--json", expect=0)
    assert len(result.json["note"]) == MAX_ANSWER_BYTES - len(head) - 2


def test_a_kept_body_is_described_by_its_own_length_not_the_compressed_one():
    import httpx

    from wxpay_cli.wire.bounds import keep_body

    received = httpx.Response(200, headers=[("Content-Encoding", "gzip"), ("Content-Length", "30"),
                                            ("Transfer-Encoding", "chunked"), ("Request-ID", "r-1")],
                              stream=httpx.ByteStream(b""), request=httpx.Request("GET", "http://127.0.0.1/"))
    kept = keep_body(received, b'{"a": 1}')
    assert dict(kept.headers) == {"request-id": "r-1", "content-length": "8"} and kept.json() == {"a": 1}


def test_an_unverified_error_page_in_json_errors_is_capped(hostile, run):
    hostile.raw(USER_PATH, 400, json.dumps({"code": "X", "message": "m", "detail": "D" * 50000}).encode(),
                {"Content-Type": "application/json"})
    result = run("user", "show", "--user", "demo", "--org", "demo-org", "--json", expect=ExitStatus.REFUSED)
    error = result.error
    assert len(error["detail"]) < 1000


def test_api_error_detail_is_capped_in_the_exception(hostile, sandbox, sandbox_keys):
    hostile.raw(USER_PATH, 400, json.dumps({"code": "X" * 500, "message": "m" * 5000, "detail": "D" * 50000}).encode())
    with client_for(sandbox, sandbox_keys, 5) as client, pytest.raises(ApiError) as caught:
        client.call(api.get_user(organization_id="demo-org", out_user_id="demo"))
    assert len(caught.value.detail) < 1000 and len(caught.value.message) < 1000 and len(caught.value.code) < 200


# -- in depth ---------------------------------------------------------------------------


DEEP = b"[" * 100_000 + b"]" * 100_000  # 200 KB, under the size cap, deeper than Python's recursion limit


def test_a_deeply_nested_unverified_error_body_is_a_refusal_not_a_bug(hostile, run):
    hostile.raw(LINK_PATH, 400, b'{"code":"X","detail":' + DEEP + b"}", {"Content-Type": "application/json"})
    result = run("repayment-url", "--user", "demo", "--org", "demo-org")
    no_traceback(result)
    assert result.exit_code == ExitStatus.REFUSED, result.stderr
    assert "not WeChat's JSON" in result.stderr


def test_a_deeply_nested_error_to_the_termination_goes_to_the_open_outcome_path(sandbox, hostile, run):
    hostile.raw("/terminate-contract", 400, DEEP)
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")
    no_traceback(result)
    assert result.exit_code != ExitStatus.INTERNAL, result.stderr
    assert "bug" not in result.stderr and "unexpected" not in result.stderr
    assert len(terminations(sandbox)) == 1
    # the re-query was made: it is what decides the outcome
    assert sum(USER_PATH in r.path for r in sandbox.received) == 3  # lookup, query before the POST, re-query


def test_a_deeply_nested_verified_answer_is_a_verification_failure(hostile, run):
    hostile.signed(LINK_PATH, b'{"repayment_url":' + DEEP + b"}")
    result = run("repayment-url", "--user", "demo", "--org", "demo-org")
    no_traceback(result)
    assert result.exit_code == ExitStatus.VERIFICATION, result.stderr


def test_a_deeply_nested_certificate_list_is_a_verification_failure(cert_sandbox, configure, run, tmp_path):
    configure(cert_sandbox, mode="none")
    Hostile(cert_sandbox).raw("/v3/certificates", 200, b'{"data":' + DEEP + b"}")
    result = run("certs", "download", "--output", str(tmp_path / "certs"),
                 env={"WXPAY_APIV3_KEY": cert_sandbox.keys.apiv3_key})
    no_traceback(result)
    assert result.exit_code == ExitStatus.VERIFICATION, result.stderr
    assert not (tmp_path / "certs").exists()
