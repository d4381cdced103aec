"""解约 end to end against the sandbox: lookup → confirm → POST with empty body →
re-query; and every way it must refuse, all recorded in the audit log."""

from __future__ import annotations

import signal

import pytest
from common import TERMINATE, audit_lines, closed_port, no_traceback, outcomes, terminations
from terminal import signal_once

from wxpay_cli.local.audit import AuditLog


def test_terminate_with_yes(sandbox, configure, run):
    configure(sandbox)
    user = sandbox.state.users[("demo-org", "demo")]
    result = run(*TERMINATE, "--yes", "--json", expect=0)
    data = result.json
    assert data["contract_state"] == "TERMINATED"
    assert (data["organization_id"], data["out_user_id"], data["user_id"], data["contract_id"]) == (
        "demo-org", "demo", user.user_id, user.contract_id)
    # lookup → query again right before the POST → POST with an empty signed body → re-query
    assert [(r.method, r.path) for r in sandbox.received] == [
        ("GET", "/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo"),
        ("GET", "/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo"),
        ("POST", f"/v3/offlinefacemch/organizations/demo-org/users/user-id/{user.user_id}/terminate-contract"),
        ("GET", "/v3/offlinefacemch/organizations/demo-org/users/out-user-id/demo"),
    ]
    post = terminations(sandbox)[0]
    assert post.body == b"" and post.signature_ok and post.status == 204
    assert "Content-Type" not in post.headers
    assert user.contract_state == "TERMINATED"
    assert result.stderr == ""  # with --json, stderr is kept for a JSON error line
    assert outcomes() == ["attempted", "succeeded"]
    assert audit_lines()[-1]["http_status"] == 204 and audit_lines()[-1]["request_id"].startswith("08")


def test_refuses_off_a_terminal_without_yes(sandbox, configure, run):
    configure(sandbox)
    result = run(*TERMINATE, expect=1)
    assert result.stdout == ""
    assert "refusing to terminate without confirmation" in result.stderr and "--yes" in result.stderr
    assert terminations(sandbox) == []
    assert sandbox.state.users[("demo-org", "demo")].contract_state == "CONTRACTED"
    [line] = audit_lines()
    assert line["outcome"] == "refused" and line["error"] == "NOT_CONFIRMED"


def test_confirmation_yes_on_a_terminal(sandbox, configure, run, terminal):
    configure(sandbox)
    result = run(*TERMINATE, "--format", "table", input="y\n", expect=0)
    assert "To terminate" in result.stderr and "张小明" in result.stderr  # the preview
    assert "This cannot be undone" in result.stderr
    assert "TERMINATED" in result.stdout
    assert len(terminations(sandbox)) == 1


def test_confirmation_no_sends_nothing(sandbox, configure, run, terminal):
    configure(sandbox)
    result = run(*TERMINATE, input="n\n", expect=1)
    assert "nothing was terminated" in result.stderr
    assert terminations(sandbox) == []
    assert audit_lines()[-1]["outcome"] == "declined"


def test_dry_run_sends_no_termination_and_shows_the_signed_request(sandbox, configure, run):
    configure(sandbox)
    result = run(*TERMINATE, "--dry-run", "--json", expect=0)
    data = result.json
    assert data["dry_run"] is True
    request = data["request"]
    user_id = sandbox.state.users[("demo-org", "demo")].user_id
    assert request["method"] == "POST"
    assert request["url"].endswith(f"/users/user-id/{user_id}/terminate-contract")
    assert request["body"] == ""
    auth = request["headers"]["authorization"]
    assert auth.startswith("WECHATPAY2-SHA256-RSA2048 ") and "(redacted)" in auth
    assert [r.method for r in sandbox.received] == ["GET"]  # only the read-only lookup by --user
    assert audit_lines()[-1]["outcome"] == "dry_run"


def never_signed(sandbox) -> tuple[str, ...]:
    """A pupil who never signed a contract (NOT_CONTRACTED): the `contract terminate` arguments for them."""
    sandbox.seed_user("demo-org", "never-signed", user_name="赵小燕", contract_state="NOT_CONTRACTED",
                      encrypt_name=False)
    return ("contract", "terminate", "--user", "never-signed", "--org", "demo-org")


def test_not_contracted_stops_before_sending(sandbox, configure, run):
    configure(sandbox)
    result = run(*never_signed(sandbox), "--yes", expect=1)
    assert "NOT_CONTRACTED, not CONTRACTED" in result.stderr
    assert terminations(sandbox) == []
    assert [(line["outcome"], line["error"]) for line in audit_lines()] == [("refused", "NOT_CONTRACTED")]


def test_a_refused_pupil_is_shown_before_the_refusal(sandbox, configure, run):
    """The operator sees which pupil the refusal is about: their record first, then why nothing was sent."""
    configure(sandbox)
    result = run(*never_signed(sandbox), "--yes", "--format", "table", expect=1)
    shown, refusal = result.stderr.find("赵小燕"), result.stderr.find("not CONTRACTED")
    assert 0 <= shown < refusal, result.stderr
    assert terminations(sandbox) == []


def test_a_pupil_already_terminated_is_a_success_with_nothing_sent(sandbox, configure, run):
    configure(sandbox)
    args = ("contract", "terminate", "--user", "demo-terminated", "--org", "demo-org")
    result = run(*args, "--yes", "--json", expect=0)
    assert (result.json["outcome"], result.json["contract_state"]) == ("ALREADY_TERMINATED", "TERMINATED")
    assert "error" not in result.json and result.stderr == ""
    assert terminations(sandbox) == [] and [r.method for r in sandbox.received] == ["GET"]
    assert outcomes() == ["already_terminated"]
    table = run(*args, "--format", "table", expect=0)  # nothing will be sent: no --yes needed, no question
    assert "nothing was left to do" in table.stdout and "王小刚" in table.stdout
    assert terminations(sandbox) == []


def test_a_pupil_already_terminated_is_not_asked_about(sandbox, configure, run, terminal):
    configure(sandbox)
    result = run("contract", "terminate", "--user", "demo-terminated", "--org", "demo-org", input="", expect=0)
    assert "cannot be undone" not in result.stderr
    assert terminations(sandbox) == []


def test_a_dry_run_of_a_pupil_already_terminated_says_nothing_would_be_sent(sandbox, configure, run):
    configure(sandbox)
    result = run("contract", "terminate", "--user", "demo-terminated", "--org", "demo-org", "--dry-run", "--json",
                 expect=0)
    assert result.json["outcome"] == "ALREADY_TERMINATED" and "request" not in result.json


def test_a_second_termination_is_a_success_with_nothing_sent(sandbox, configure, run):
    configure(sandbox)
    first = run(*TERMINATE, "--yes", "--json", expect=0)
    assert first.json["outcome"] == "TERMINATED"
    again = run(*TERMINATE, "--yes", "--json", expect=0)
    assert again.json["outcome"] == "ALREADY_TERMINATED"
    assert len(terminations(sandbox)) == 1
    assert outcomes() == ["attempted", "succeeded", "already_terminated"]


def test_second_termination_by_user_id_gets_wechats_refusal(sandbox, configure, run):
    configure(sandbox)
    user_id = sandbox.state.users[("demo-org", "demo")].user_id
    args = ("contract", "terminate", "--user-id", user_id, "--org", "demo-org", "--yes")
    first = run(*args, "--json", expect=0)
    assert first.json["contract_state"] == "TERMINATED"
    assert [r.method for r in sandbox.received] == ["POST"]  # no lookup by user_id
    second = run(*args, "--json")
    assert second.exit_code == 1 and second.stdout == ""
    assert second.error["code"] == "INVALID_REQUEST"
    # An answer, even a refusal, proves the POST was sent; by --user-id it cannot be re-queried.
    assert outcomes() == ["attempted", "succeeded", "attempted", "unknown"]
    assert "wxpay user show" in second.error["message"]


def test_user_and_user_id_are_exclusive(sandbox, configure, run):
    configure(sandbox)
    assert run("contract", "terminate", "--org", "demo-org", "--yes").exit_code == 2
    assert run(*TERMINATE, "--user-id", "x", "--yes").exit_code == 2
    assert sandbox.received == []


def test_timeout_then_requery_finds_it_terminated(sandbox, configure, run, tmp_path):
    """The POST reached WeChat but the answer was lost: re-query decides, nothing is resent."""
    configure(sandbox, timeout=0.5)
    sandbox.inject("slow_answer", seconds=1.0, path_contains="terminate-contract")
    result = run(*TERMINATE, "--yes", "--json", expect=0)
    assert result.json["contract_state"] == "TERMINATED"
    assert len(terminations(sandbox)) == 1  # never retried blindly
    assert audit_lines()[-1]["outcome"] == "succeeded"


def test_timeout_then_requery_still_contracted_is_not_retried(sandbox, configure, run):
    configure(sandbox, timeout=0.5)
    sandbox.inject("delay", seconds=1.0, path_contains="terminate-contract")
    result = run(*TERMINATE, "--yes", expect=4)
    assert "still CONTRACTED when re-queried" in result.stderr and "wxpay user show --user demo" in result.stderr
    assert len(terminations(sandbox)) == 1
    assert outcomes() == ["attempted", "unknown"]


def test_5xx_on_termination_is_not_retried_but_requeried(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("status", status=500, retry_after="0", path_contains="terminate-contract")
    result = run(*TERMINATE, "--yes", expect=4)
    assert [r.method for r in sandbox.received] == ["GET", "GET", "POST", "GET"]  # lookup, query before the POST, one POST, re-query
    assert "still CONTRACTED when re-queried" in result.stderr
    assert outcomes() == ["attempted", "unknown"]


def test_unverifiable_204_is_settled_by_requery(sandbox, configure, run):
    """WeChat terminated, but its answer failed verification: re-query, never resend."""
    configure(sandbox)
    sandbox.inject("bad_signature", path_contains="terminate-contract")
    result = run(*TERMINATE, "--yes", "--json", expect=0)
    data = result.json
    assert data["contract_state"] == "TERMINATED" and "confirmed by re-query" in data["note"]
    assert len(terminations(sandbox)) == 1
    assert outcomes() == ["attempted", "succeeded"]


def test_failed_requery_after_204_still_reports_success(sandbox, configure, run):
    configure(sandbox)
    sandbox.inject("status", status=404, code="NOT_FOUND", path_contains="out-user-id", skip=2)
    result = run(*TERMINATE, "--yes", "--json", expect=0)
    data = result.json
    assert data["contract_state"] == "TERMINATED" and "could not be re-queried" in data["note"]
    assert outcomes() == ["attempted", "succeeded"]


def test_dry_run_by_user_id_sends_nothing_at_all(sandbox, configure, run):
    configure(sandbox)
    result = run("contract", "terminate", "--user-id", "wxu_1", "--org", "demo-org", "--dry-run", "--json", expect=0)
    assert result.json["request"]["url"].endswith("/users/user-id/wxu_1/terminate-contract")
    assert sandbox.received == []


def test_confirmation_question_shows_the_name_sanitised(sandbox, configure, run, terminal):
    configure(sandbox)
    sandbox.seed_user("demo-org", "evil", user_name="\x1b]0;pwned\x07\u202eevil", encrypt_name=False)
    result = run("contract", "terminate", "--user", "evil", "--org", "demo-org", input="n\n", expect=1)
    [question] = [line for line in result.stderr.splitlines() if "cannot be undone" in line]
    assert "\x1b" not in question and "\u202e" not in question and "\x07" not in question
    assert "\\x1b]0;pwned\\x07\\u202eevil" in question
    assert terminations(sandbox) == []


# -- the irreversible path: one POST at most, every doubt re-queried -----------------------------


def hostile_user_query(monkeypatch, change, *, skip: int = 0):
    """The sandbox answers user queries (after the first `skip`) with `change(answer)`, signed with
    its trusted key: a correctly signed but wrong answer."""
    from wxpay_cli.sandbox.server import Handler

    real = Handler.route_user_query
    seen = {"n": 0}

    def route(self, record, organization_id, out_user_id):
        status, answer = real(self, record, organization_id, out_user_id)
        seen["n"] += 1
        return status, (change(dict(answer)) if seen["n"] > skip else answer)

    monkeypatch.setattr(Handler, "route_user_query", route)


@pytest.mark.parametrize("status", [429, 408, 499, 400, 503])
def test_any_answer_to_the_termination_is_requeried_never_resent(sandbox, configure, run, status, retry_sleeps):
    configure(sandbox)
    sandbox.inject("status", status=status, code="SOMETHING", retry_after="0", path_contains="terminate-contract",
                   times=5)
    result = run(*TERMINATE, "--yes")
    assert len(terminations(sandbox)) == 1  # never twice, whatever the status
    assert [r.method for r in sandbox.received] == ["GET", "GET", "POST", "GET"]
    assert result.exit_code == (4 if status in (429, 503) else 1)
    assert "still CONTRACTED when re-queried" in result.stderr and "wxpay user show --user demo" in result.stderr
    assert outcomes() == ["attempted", "unknown"]
    assert "Traceback" not in result.stderr


def test_a_refusal_that_did_terminate_is_settled_by_requery(sandbox, configure, run, monkeypatch):
    """A proxy answers 408 but WeChat did terminate: the re-query decides, nothing is resent."""
    configure(sandbox)
    sandbox.inject("status", status=408, code="TIMEOUT", path_contains="terminate-contract")
    hostile_user_query(monkeypatch, lambda a: {**a, "contract_state": "TERMINATED"}, skip=2)
    result = run(*TERMINATE, "--yes", "--json", expect=0)
    assert result.json["contract_state"] == "TERMINATED"
    assert outcomes() == ["attempted", "succeeded"]


@pytest.mark.parametrize("state", ["NOT_CONTRACTED", "SUSPENDED"])
def test_only_a_requery_answering_terminated_settles_an_open_outcome(sandbox, configure, run, monkeypatch, state):
    """After a 5xx the re-query decides, but only TERMINATED means done: any other state is still open."""
    configure(sandbox)
    sandbox.inject("status", status=500, retry_after="0", path_contains="terminate-contract")
    hostile_user_query(monkeypatch, lambda a: {**a, "contract_state": state}, skip=2)
    result = run(*TERMINATE, "--yes", "--json", expect=4)
    assert result.stdout == ""
    assert f"still {state} when re-queried" in result.error["message"]
    assert "wxpay user show --user demo" in result.error["message"]
    assert outcomes() == ["attempted", "unknown"]
    assert len(terminations(sandbox)) == 1


def test_cannot_tell_when_the_post_times_out_and_the_requery_fails(sandbox, configure, run, retry_sleeps):
    configure(sandbox, timeout=0.5)
    sandbox.inject("slow_answer", seconds=1.0, path_contains="terminate-contract")
    sandbox.inject("status", status=500, retry_after="0", path_contains="out-user-id", skip=2, times=10)
    result = run(*TERMINATE, "--yes", expect=4)
    assert "may or may not have happened" in result.stderr and "re-query failed too" in result.stderr
    assert "wxpay user show --user demo --org demo-org" in result.stderr
    assert len(terminations(sandbox)) == 1
    assert outcomes() == ["attempted", "unknown"]


def test_requery_about_another_pupil_never_confirms_a_termination(sandbox, configure, run, monkeypatch):
    """After a 5xx, a signed re-query describing ANOTHER pupil as TERMINATED is refused, not believed."""
    configure(sandbox)
    sandbox.inject("status", status=500, retry_after="0", path_contains="terminate-contract")
    hostile_user_query(monkeypatch, lambda a: {**a, "user_id": "wxu_someone_else", "contract_state": "TERMINATED"},
                       skip=2)
    result = run(*TERMINATE, "--yes", expect=5)  # another pupil answering: a verification failure, whatever the POST got
    assert "wxu_someone_else" in result.stderr and "may or may not have happened" in result.stderr
    assert outcomes() == ["attempted", "unknown"]
    assert len(terminations(sandbox)) == 1


def test_requery_after_204_without_a_state_is_said_not_filled_in(sandbox, configure, run, monkeypatch):
    configure(sandbox)
    hostile_user_query(monkeypatch, lambda a: {**a, "contract_state": None}, skip=2)
    result = run(*TERMINATE, "--yes", "--json", expect=0)
    data = result.json
    assert "re-query" in data.get("note", "") and "no contract_state" in data["note"]


@pytest.mark.parametrize("change", [lambda a: {**a, "contract_state": None},
                                    lambda a: {k: v for k, v in a.items() if k != "contract_state"}],
                         ids=["null", "missing"])
def test_a_record_without_contract_state_is_not_terminable(sandbox, configure, run, monkeypatch, change):
    configure(sandbox)
    hostile_user_query(monkeypatch, change)
    result = run(*TERMINATE, "--yes", expect=5)
    assert "contract_state" in result.stderr and "Traceback" not in result.stderr
    assert terminations(sandbox) == []


def test_check_terminable_refuses_a_looked_up_pupil_without_state(tmp_path):
    from wxpay_cli.errors import VerificationError
    from wxpay_cli.flows.termination import Termination, target_from_user
    from wxpay_cli.local.config import Profile

    audit = AuditLog(tmp_path / "audit.jsonl")
    termination = Termination(None, Profile("p", "1900000001", "AB", None), audit)
    named = {"out_user_id": "pupil", "organization_id": "org"}
    target = target_from_user({**named, "user_id": "wxu_1", "contract_state": None}, "org", "pupil")
    with pytest.raises(VerificationError):
        termination.check_terminable(target)
    assert [line["outcome"] for line in audit.records()] == ["refused"]
    termination.check_terminable(target_from_user({**named, "user_id": "wxu_1", "contract_state": "CONTRACTED"},
                                                  "org", "pupil"))


def test_connection_refused_is_not_sent(sandbox, configure, run, retry_sleeps):
    configure(sandbox, base_url=f"http://127.0.0.1:{closed_port()}")
    result = run("contract", "terminate", "--user-id", "wxu_1", "--org", "demo-org", "--yes", expect=4)
    assert "was not sent" in result.stderr and "may or may not" not in result.stderr
    assert outcomes() == ["attempted", "not_sent"]
    assert len(retry_sleeps) == 2  # a connection never set up is safe to try again


def test_tls_failure_is_not_sent(sandbox, configure, run, retry_sleeps):
    """https:// to a server that speaks plain HTTP: the TLS handshake fails before any request."""
    configure(sandbox, base_url=sandbox.url.replace("http://", "https://"))
    result = run("contract", "terminate", "--user-id", "wxu_1", "--org", "demo-org", "--yes", expect=4)
    assert "was not sent" in result.stderr
    assert terminations(sandbox) == []
    assert outcomes() == ["attempted", "not_sent"]


def test_unexpected_error_during_the_post_is_recorded_unknown(sandbox, configure, run, monkeypatch):
    """A bug while the POST is in flight: audit `unknown`, the advice, exit 70 — no traceback."""
    from wxpay_cli.wire.client import Client

    configure(sandbox)
    real = Client.send_unverified

    def broken(self, call):
        response = real(self, call)
        if call.method == "POST":
            raise ZeroDivisionError("bug")
        return response

    monkeypatch.setattr(Client, "send_unverified", broken)
    result = run(*TERMINATE, "--yes", expect=70)
    assert "Traceback" not in result.stderr
    assert "may or may not have happened" in result.stderr and "wxpay user show --user demo" in result.stderr
    assert "--traceback" in result.stderr
    assert outcomes() == ["attempted", "unknown"]
    assert len(terminations(sandbox)) == 1


# -- interrupted: Ctrl-C and SIGTERM around the POST ---------------------------------------------


@pytest.mark.parametrize("interruption", ["ctrl-c", "sigterm"])
def test_an_interruption_after_the_verified_204_says_the_termination_was_done(sandbox, configure, run,
                                                                              monkeypatch, interruption):
    """Ctrl-C during the re-query that follows WeChat's verified 204: the operator is told it
    happened (exit 130/143), not just "interrupted" about an irreversible operation."""
    from wxpay_cli.errors import SignalReceived
    from wxpay_cli.wire.client import Client

    configure(sandbox)
    real = Client.send_unverified

    def interrupted_after_post(self, call):
        if call.method == "GET" and any(r.method == "POST" for r in sandbox.received):
            raise SignalReceived(signal.SIGTERM) if interruption == "sigterm" else KeyboardInterrupt()
        return real(self, call)

    monkeypatch.setattr(Client, "send_unverified", interrupted_after_post)
    result = run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes")
    no_traceback(result)
    assert result.exit_code == (143 if interruption == "sigterm" else 130), result.stderr
    assert "TERMINATED" in result.stderr or "was terminated" in result.stderr, result.stderr
    assert outcomes() == ["attempted", "succeeded"]
    assert len(terminations(sandbox)) == 1


@pytest.mark.parametrize("interruption", ["ctrl-c", "sigterm"])
def test_an_interruption_during_the_requery_after_an_open_outcome_is_recorded_unknown(sandbox, configure, run,
                                                                                      monkeypatch, interruption):
    """The POST got a 5xx (maybe done), then Ctrl-C during the re-query: the audit log says `unknown`
    and the operator is told to check, not left with only the `attempted` line."""
    from wxpay_cli.errors import SignalReceived
    from wxpay_cli.wire.client import Client

    configure(sandbox)
    sandbox.inject("status", status=500, retry_after="0", path_contains="terminate-contract")
    real = Client.send_unverified

    def interrupted_requery(self, call):
        if call.method == "GET" and terminations(sandbox):
            raise SignalReceived(signal.SIGTERM) if interruption == "sigterm" else KeyboardInterrupt()
        return real(self, call)

    monkeypatch.setattr(Client, "send_unverified", interrupted_requery)
    result = run(*TERMINATE, "--yes", expect=143 if interruption == "sigterm" else 130)
    no_traceback(result)
    assert "may or may not have happened" in result.stderr and "wxpay user show --user demo" in result.stderr
    assert outcomes() == ["attempted", "unknown"]
    assert len(terminations(sandbox)) == 1


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_the_termination_post_is_recorded_then_exits(sandbox, configure, tmp_path, sig, code):
    configure(sandbox)
    sandbox.inject("slow_answer", seconds=5.0, path_contains="terminate-contract")
    returncode, out, err = signal_once((*TERMINATE, "--yes"), sig, lambda: any(r.method == "POST" for r in sandbox.received))
    assert returncode == code, err
    assert "Traceback" not in err
    assert "may or may not have happened" in err and "wxpay user show --user demo --org demo-org" in err
    assert outcomes() == ["attempted", "unknown"]
    assert [r.method for r in sandbox.received] == ["GET", "GET", "POST"]  # no re-query after it, no second POST
