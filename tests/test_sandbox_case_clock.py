"""The sandbox's clock in a rehearsed case: an unanswered termination takes effect at its due time
(whoever asks first, by user query, contract query or user_id), later requests do not move it, a
pupil it terminated signs again with --resign-after, the times it reports are those of the events,
and what time did is kept for --state; --unanswered-delay and a `termination` column in any case."""

from __future__ import annotations

import time

import pytest
from common import terminations
from test_sandbox_rehearsal import marked_roster, shown, signed_call

from wxpay_cli.sandbox.roster import load_csv
from wxpay_cli.sandbox.server import rfc3339


@pytest.fixture
def clock(sandbox):
    """The sandbox's clock stopped at a whole second `clock.start`; `clock(seconds)` moves it on."""

    class Clock:
        start = float(int(time.time()))
        moment = start

        def __call__(self, seconds: float) -> None:
            self.moment += seconds

    stopped = Clock()
    sandbox.state.clock = lambda: stopped.moment
    return stopped


def terminate_unanswered(run) -> None:
    run("contract", "terminate", "--user", "m1", "--org", "school-9", "--yes", expect=4)


def test_an_unanswered_termination_is_dated_when_it_took_effect_not_when_asked(sandbox, clock, configure, run,
                                                                               tmp_path):
    marked_roster(sandbox, tmp_path)
    configure(sandbox)
    terminate_unanswered(run)
    clock(100)
    contract = shown(run, "m1", "school-9")["contract_id"]
    data = run("contract", "show", contract, "--json", expect=0).json
    assert data["contract_state"] == "TERMINATED"
    assert data["contract_terminated_time"] == rfc3339(clock.start + 3)


def test_the_contract_query_alone_sees_an_unanswered_termination_take_effect(sandbox, clock, configure, run,
                                                                            tmp_path):
    marked_roster(sandbox, tmp_path)
    configure(sandbox)
    contract = sandbox.state.users[("school-9", "m1")].contract_id
    terminate_unanswered(run)
    clock(3)
    assert run("contract", "show", contract, "--json", expect=0).json["contract_state"] == "TERMINATED"


def test_a_second_request_does_not_move_an_unanswered_terminations_due_time(sandbox, clock, configure, run,
                                                                           tmp_path):
    import httpx

    marked_roster(sandbox, tmp_path)
    configure(sandbox)
    terminate_unanswered(run)
    clock(2)
    user = sandbox.state.users[("school-9", "m1")]
    with pytest.raises(httpx.HTTPError):  # received, never answered
        signed_call(sandbox, "POST", f"/v3/offlinefacemch/organizations/school-9/users/user-id/{user.user_id}"
                                     "/terminate-contract")
    assert len(terminations(sandbox)) == 2
    clock(1)  # 3 s after the first request
    assert shown(run, "m1", "school-9")["contract_state"] == "TERMINATED"


def test_an_unanswered_termination_that_took_effect_signs_again_after_resign_after(sandbox, clock, configure, run,
                                                                                  tmp_path):
    marked_roster(sandbox, tmp_path)
    configure(sandbox)
    sandbox.state.resign_after = 60
    old = sandbox.state.users[("school-9", "m1")].contract_id
    terminate_unanswered(run)
    clock(3 + 60)
    now = shown(run, "m1", "school-9")
    assert now["contract_state"] == "CONTRACTED" and now["contract_id"] != old
    data = run("contract", "show", now["contract_id"], "--json", expect=0).json
    assert data["contract_signed_time"] == rfc3339(clock.start + 3 + 60)


def test_signing_again_is_dated_resign_after_the_termination_not_when_asked(sandbox, clock, configure, run):
    configure(sandbox)
    sandbox.state.resign_after = 60
    run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json", expect=0)
    clock(200)  # within the signature's clock window
    now = shown(run, "demo")
    data = run("contract", "show", now["contract_id"], "--json", expect=0).json
    assert data["contract_signed_time"] == rfc3339(clock.start + 60)


def test_a_pupil_signed_again_can_be_terminated_by_user_id(sandbox, clock, configure, run):
    """The termination by user_id looks at the pupil as time left them: signed again, so it terminates."""
    configure(sandbox)
    sandbox.state.resign_after = 60
    user_id = sandbox.state.users[("demo-org", "demo")].user_id
    run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json", expect=0)
    clock(60)
    result = run("contract", "terminate", "--user-id", user_id, "--org", "demo-org", "--yes", "--json", expect=0)
    assert result.json["contract_state"] == "TERMINATED"
    assert [r.status for r in terminations(sandbox)] == [204, 204]


def test_what_time_did_to_a_pupil_is_saved_as_shown(sandbox, clock, configure, run):
    """--state saves on every change (`on_change`): a contract signed again is kept under the id shown."""
    configure(sandbox)
    sandbox.state.resign_after = 60
    run("contract", "terminate", "--user", "demo", "--org", "demo-org", "--yes", "--json", expect=0)
    saved = []
    sandbox.state.on_change = lambda: saved.append(sandbox.state.snapshot())
    clock(60)
    contract = shown(run, "demo")["contract_id"]
    assert saved, "the re-signing was not saved"
    [kept] = [u for u in saved[-1]["users"] if u["out_user_id"] == "demo" and u["organization_id"] == "demo-org"]
    assert (kept["contract_id"], kept["contract_state"]) == (contract, "CONTRACTED")


def test_a_saved_state_whose_past_contracts_lack_fields_is_refused(sandbox):
    snapshot = sandbox.state.snapshot()
    user = snapshot["users"][0]
    user["past_contracts"] = [{"contract_id": "ct_1", "contract_state": "TERMINATED"}]
    with pytest.raises(ValueError, match="not a sandbox state"):
        sandbox.state.restore(snapshot)


@pytest.mark.parametrize("mark", ["Unanswered", "UNANSWERED", " unanswered "])
def test_the_termination_mark_is_read_in_any_case(sandbox, tmp_path, mark):
    roster = tmp_path / "pupils.csv"
    roster.write_text(f"out_user_id,organization_id,termination\nm1,school-9,{mark}\n", encoding="utf-8")
    assert load_csv(sandbox, roster) == 1
    assert sandbox.state.users[("school-9", "m1")].termination_unanswered


def test_serve_unanswered_delay_sets_when_an_unanswered_termination_takes_effect(tmp_path, sandbox_keys, run):
    """--unanswered-delay 0: the termination has taken effect by the re-query, so it is confirmed."""
    from test_sandbox_serve import Served

    state = tmp_path / "state"
    sandbox_keys.save(state / "sandbox")
    pupils = tmp_path / "pupils.csv"
    pupils.write_text("out_user_id,organization_id,termination\nm1,school-x,unanswered\n", encoding="utf-8")
    served = Served("--state", str(state), "--pupils", str(pupils), "--unanswered-delay", "0")
    try:
        result = run("contract", "terminate", "--user", "m1", "--org", "school-x", "--yes", "--json",
                     env={"WXPAY_CONFIG": str(served.config)}, expect=0)
        assert result.json["outcome"] == "TERMINATED"
    finally:
        assert served.stop() == 0
