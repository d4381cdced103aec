"""Contract termination (解约), the one irreversible operation, step by step.

`find_target` resolves the pupil, `check_name` stops when the operator's name
for them is not WeChat's (flows/names.py), `already_terminated` ends it as a
success when there is nothing left to do, `check_terminable` stops when there
is no active contract, `Termination.run` sends the request once and re-queries
to report the new state (or, after a timeout, to find out what happened). Every
step that matters is written to the audit log. `terminate_one` is the whole
guarded path for one pupil (the order of checks, when consent is needed, what
is recorded when it is refused); the command layer supplies how a person sees
the pupil and answers the question, so nothing here prompts or prints.

The network steps are flows (see steps.py): generators that yield API calls,
so single mode (`steps.run`) and batch mode (`steps.run_async`) share them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

from wxpay_cli.errors import (
    AuditLogError,
    Cancelled,
    ConfigError,
    InternalError,
    Interrupted,
    NetworkError,
    OperationRefused,
    VerificationError,
    WxpayError,
)
from wxpay_cli.flows.steps import Steps
from wxpay_cli.i18n import _
from wxpay_cli.local.attempts import Claim, OpenAttempts, Pupil, default_folder
from wxpay_cli.local.audit import AuditLog
from wxpay_cli.local.config import Profile
from wxpay_cli.sanitise import for_terminal
from wxpay_cli.wire import api


@dataclass
class Target:
    """The pupil and contract a termination is about."""

    organization_id: str
    user_id: str
    out_user_id: str | None = None
    contract_id: str | None = None
    contract_state: str | None = None  # None: not known (looked up by user_id only)
    user_name: str | None = None
    class_name: str | None = None
    # True when WeChat's user query described the pupil: its contract_state must then be known.
    looked_up: bool = field(default=False, repr=False)

    def as_dict(self) -> dict:
        data = asdict(self)
        del data["looked_up"]
        return data


ANOTHER_PUPIL = "ANOTHER_PUPIL"  # a re-query answered for another pupil than the one terminated
PUPIL_NOT_NAMED = "PUPIL_NOT_NAMED"
PUPIL_BUSY = "PUPIL_BUSY"  # another wxpay run of this user holds the pupil's claim
# A result's `outcome`: what happened to the pupil (JSON keeps these values in every language).
TERMINATED = "TERMINATED"  # this run sent the termination, and WeChat terminated the contract
ALREADY_TERMINATED = "ALREADY_TERMINATED"  # nothing sent: the contract was terminated already (a success)
WOULD_TERMINATE = "WOULD_TERMINATE"  # a dry run (or the look before the question): it would be sent


def target_from_user(data: dict, organization_id: str, out_user_id: str) -> Target:
    """The pupil to terminate, from a user query's answer that names them.

    The answer must carry `out_user_id` and `organization_id`, exactly those
    asked for: an answer that names nobody (a signed answer of another endpoint,
    replayed) could otherwise send the termination to any `user_id` it holds.
    """
    if (data.get("out_user_id"), data.get("organization_id")) != (out_user_id, organization_id):
        raise VerificationError(
            _("WeChat's answer did not name the pupil {pupil} of organization {org} (out_user_id and "
              "organization_id must be in it, exactly as asked): nothing was sent").format(
                pupil=for_terminal(out_user_id), org=for_terminal(organization_id)),
            code=PUPIL_NOT_NAMED,
            hint=_("report it to WeChat with its Request-ID; to terminate anyway, name WeChat's id yourself: "
                   "`wxpay user show`, then `wxpay contract terminate --user-id USER_ID --org ORG`"))
    user_id = data.get("user_id")
    if not user_id:
        raise VerificationError(_("WeChat's user query has no user_id; cannot terminate"))
    info = data.get("student_info") or data.get("staff_info") or {}
    return Target(
        organization_id=organization_id,
        out_user_id=out_user_id,
        user_id=user_id,
        contract_id=data.get("contract_id"),
        contract_state=data.get("contract_state"),
        user_name=data.get("user_name"),
        class_name=info.get("class_name") or info.get("occupation"),
        looked_up=True,
    )


def find_target(*, organization_id: str, out_user_id: str | None = None,
                user_id: str | None = None) -> Steps[Target]:
    """Look the pupil up by out_user_id; by user_id there is no query, so the state stays unknown."""
    if out_user_id:
        answer = yield api.get_user(organization_id=organization_id, out_user_id=out_user_id)
        return target_from_user(answer.data, organization_id, out_user_id)
    return Target(organization_id=organization_id, user_id=user_id)


def check_local_state(audit: AuditLog, replay_memory, warn: Callable[[str], None] | None = None,
                      mchid: str | None = None) -> None:
    """Before anything is looked up for a termination: the audit log can take lines, and the
    replay memory shared by this user's runs (local.nonces) can be used; each refuses (exit 3).
    Terminations an earlier run left without an outcome (for merchant `mchid`) are named through `warn`."""
    audit.check_writable()
    if replay_memory is not None:
        replay_memory.check_usable(time.time())
    if warn is not None:
        for attempt in OpenAttempts(default_folder()).left_open():
            if mchid is not None and attempt.get("mchid") not in (mchid, None):  # unreadable: whose is not known
                continue
            warn(_("an earlier run's termination of {pupil} (organization {org}, user_id {user_id}), begun at "
                   "{time}, has no outcome: the next termination of that pupil checks it first").format(
                pupil=for_terminal(attempt.get("out_user_id") or "?"),
                org=for_terminal(attempt.get("organization_id") or "?"),
                user_id=for_terminal(attempt.get("user_id") or "?"), time=for_terminal(attempt.get("time") or "?")))


class SentTerminations:
    """The terminations this process has sent, and what is known of each (from the audit lines
    `Termination.record` writes): the last word to the operator when stdout fails after them."""

    def __init__(self) -> None:
        self.pupils: dict[tuple[str, str], tuple[str, str]] = {}  # (org, user_id) -> (who, outcome)

    def note(self, target: Target, outcome: str) -> None:
        key = (target.organization_id, target.user_id)
        if outcome == "not_sent":
            self.pupils.pop(key, None)
        elif outcome in ("unknown", "succeeded"):
            who = for_terminal(target.out_user_id or target.user_id)
            if target.user_name:
                who = f"{for_terminal(target.user_name)} ({who})"
            self.pupils[key] = (who, outcome)

    def summary(self) -> str:
        """'terminated: A, B; outcome not known: C' (empty when nothing was sent)."""
        done = [who for who, outcome in self.pupils.values() if outcome == "succeeded"]
        open_ = [who for who, outcome in self.pupils.values() if outcome != "succeeded"]
        said = ""
        if done:
            said = _("terminated: {pupils}").format(pupils=", ".join(done))
        if open_:
            unknown = _("outcome not known: {pupils}").format(pupils=", ".join(open_))
            said = said + "; " + unknown if said else unknown
        return said


SENT = SentTerminations()  # one per process: what cli.py says when the output fails


@dataclass
class Consent:
    """How the operator agrees to a termination.

    `given`: agreed beforehand (--yes). Otherwise `ask` puts the question about
    the target to a person and returns their answer; None when no person can
    answer (not a terminal), and then nothing is sent.
    """

    given: bool
    ask: Callable[[Target], bool] | None = None


def terminate_one(client, profile: Profile, audit: AuditLog, *, organization_id: str, out_user_id: str | None,
                  user_id: str | None, consent: Consent, dry_run: bool = False,
                  show: Callable[[Target], None] | None = None,
                  warn: Callable[[str], None] | None = None, name: str | None = None,
                  ignore_name: bool = False) -> tuple[Target, dict]:
    """The guarded termination of one pupil, shared by `contract terminate` and `handover`.

    The audit log must be writable (and the replay memory usable) before
    anything is looked up; the pupil is looked up now (the state the decision
    is made on); `show` lets a person see them; a `name` the operator gave
    must be WeChat's (unless `ignore_name`); a dry run describes the signed
    request and sends nothing. Otherwise the pupil is claimed (no other run of
    this user may terminate them meanwhile), an attempt an earlier run left
    open is settled, a contract already TERMINATED is a success with nothing
    sent, a contract that is not CONTRACTED stops here, consent is needed (a
    refusal is recorded). Returns the target and the result (see
    Termination.run). `warn` tells a person what an earlier run left open.
    """
    from wxpay_cli.flows import steps

    if not dry_run:
        check_local_state(audit, client.verifier.shared_nonces if client.verifier else None, warn, profile.mchid)
    termination = Termination(client, profile, audit, warn=warn)
    target = steps.run(client, termination.find(organization_id=organization_id, out_user_id=out_user_id,
                                                user_id=user_id))
    if show is not None:
        show(target)
    termination.check_name(target, name, ignore=ignore_name)
    if dry_run:
        done = termination.already_terminated(target, dry_run=True)
        if done is not None:
            return target, done
        termination.check_terminable(target)
        return target, termination.dry_run(target)
    with termination.claimed(target):
        steps.run(client, termination.settle_left_open(target))
        done = termination.already_terminated(target)
        if done is not None:
            return target, done
        termination.check_terminable(target)
        if not consent.given:
            if consent.ask is None:
                raise termination.refuse(
                    target, _("refusing to terminate without confirmation: nothing was sent"),
                    code="NOT_CONFIRMED", hint=_("run it on a terminal, or pass --yes in scripts"),
                )
            if not consent.ask(target):
                termination.record(target, "declined")
                raise Cancelled(_("cancelled: nothing was terminated"), code="NOT_CONFIRMED")
        return target, steps.run(client, termination.run(target))


class Termination:
    """One termination attempt for one profile, recorded in the audit log (`recording=False`: the
    look before a batch's question, which decides each row but records and sends nothing)."""

    def __init__(self, client, profile: Profile, audit: AuditLog | None, warn: Callable[[str], None] | None = None,
                 *, recording: bool = True):
        self.client = client  # either client: only describe_signed is used directly
        self.profile = profile
        self.audit = audit
        self.recording = recording
        self.warn = warn or (lambda _message: None)
        self.claim: Claim | None = None  # this run's claim on the pupil (see claimed)
        self.outcome: str | None = None  # the last outcome recorded for this run's POST ("unknown": check first)

    def find(self, *, organization_id: str, out_user_id: str | None, user_id: str | None) -> Steps[Target]:
        """find_target, with a refusal recorded when WeChat's answer does not name the pupil."""
        try:
            return (yield from find_target(organization_id=organization_id, out_user_id=out_user_id,
                                           user_id=user_id))
        except VerificationError as exc:
            if exc.code == PUPIL_NOT_NAMED:
                self._record_or_say(Target(organization_id=organization_id, user_id=None, out_user_id=out_user_id),
                                    "refused", error=exc.code)
            raise

    @contextmanager
    def claimed(self, target: Target) -> Iterator[None]:
        """Hold the pupil's claim (local.attempts) while deciding and sending; OperationRefused
        (PUPIL_BUSY, nothing sent) while another wxpay run of this user holds it."""
        attempts = OpenAttempts(default_folder())
        try:
            claim = attempts.claim(Pupil(self.profile.mchid, target.organization_id, target.user_id))
        except OSError as exc:
            raise AuditLogError(_("cannot use {folder} to claim the pupil: {reason}").format(
                folder=attempts.folder, reason=exc.strerror or exc)) from None
        if claim is None:
            raise self.refuse(target, _("another wxpay run is terminating {pupil} right now: nothing was sent").format(
                pupil=for_terminal(target.out_user_id or target.user_id)), code=PUPIL_BUSY,
                hint=_("when that run has finished, check with `wxpay user show --user {user} --org {org}`").format(
                    user=for_terminal(target.out_user_id or "OUT_USER_ID"), org=for_terminal(target.organization_id)))
        self.claim = claim
        try:
            yield
        finally:
            self.claim = None
            claim.release()

    def settle_left_open(self, target: Target) -> Steps[None]:
        """An earlier run's attempt on this pupil has no outcome (it crashed, or its answer was lost):
        before anything else is done for the pupil, query them again (holding the claim: the lookup
        may be older than that run's POST) and close the attempt with what WeChat says now. By
        --user-id nothing can be queried: it is refused, and the attempt stays open."""
        earlier = self.claim.left_open if self.claim else None
        if earlier is None:
            return
        begun = for_terminal(earlier.get("time") or "?")
        who = for_terminal(target.out_user_id or target.user_id)
        if not target.out_user_id:
            raise self.refuse(
                target, _("an earlier run's termination of {who}, begun at {time}, has no known outcome and "
                          "cannot be checked by user_id: nothing was sent").format(who=who, time=begun),
                code="LEFT_OPEN", hint=_("run it with --user OUT_USER_ID so the state is checked first; if only "
                                         "WeChat Pay's merchant platform can tell, check there and then remove "
                                         "{path}").format(path=self.claim.path))
        state = yield from self._current_state(target)
        target.contract_state = state
        if state == "TERMINATED":
            self.record(target, "succeeded", error="LEFT_OPEN: confirmed by a later query", sent_now=False)
            self.warn(_("an earlier run's termination of {who}, begun at {time}, did happen: WeChat says "
                        "TERMINATED (recorded as succeeded)").format(who=who, time=begun))
        else:
            self.record(target, "checked", error=f"LEFT_OPEN: {state}", sent_now=False)
            self.warn(_("an earlier run's termination of {who}, begun at {time}, has not taken effect: WeChat "
                        "says {state} (recorded)").format(who=who, time=begun, state=for_terminal(state)))
        self.claim.close()

    def record(self, target: Target, outcome: str, *, http_status: int | None = None,
               request_id: str | None = None, error: str | None = None, sent_now: bool = True) -> None:
        """Write one audit line; an `attempted` line is on disk before this returns (before the POST),
        even in a batch, where the other lines wait for the row's group commit. `sent_now=False`:
        about an earlier run's POST, not this run's (not named when the output fails)."""
        if not self.recording:
            return
        if sent_now:
            SENT.note(target, outcome)  # known even if its line cannot be written
            self.outcome = outcome
        self.audit.append(
            sync_now=outcome == "attempted",
            operator=self.profile.operator, profile=self.profile.name, mchid=self.profile.mchid, operation="terminate",
            organization_id=target.organization_id, out_user_id=target.out_user_id, user_id=target.user_id,
            contract_id=target.contract_id, outcome=outcome, http_status=http_status, request_id=request_id,
            error=error, user_name=_plain(target.user_name), class_name=target.class_name,
        )

    def refuse(self, target: Target, message: str, *, code: str, hint: str | None = None) -> OperationRefused:
        """Record a local refusal and return the error to raise."""
        self.record(target, "refused", error=code)
        return OperationRefused(message, code=code, hint=hint)

    def check_name(self, target: Target, name: str | None, *, ignore: bool = False) -> None:
        """The operator's `name` for the pupil must be WeChat's (flows/names.py): otherwise
        NAME_MISMATCH or NAME_UNAVAILABLE is recorded and raised (nothing sent), or, with
        `ignore`, only said. A pupil given by user_id is not looked up: nothing to compare."""
        from wxpay_cli.flows import names

        if name is None:
            return
        if target.looked_up:
            difference = names.compare(name, target.user_name, who=target.out_user_id)
        else:
            difference = names.not_by_user_id(target.user_id)
        if difference is None:
            return
        if ignore:
            self.warn(_("{reason} (--ignore-name-mismatch: going on)").format(reason=difference.message))
            return
        refusal = names.refusal(difference, nothing=_("nothing was sent"))
        raise self.refuse(target, refusal.message, code=refusal.code, hint=refusal.hint)

    def already_terminated(self, target: Target, *, dry_run: bool = False) -> dict | None:
        """The result for a pupil whose contract the lookup found TERMINATED already (nothing to
        send: a success, recorded `already_terminated`), or None when there is something to do."""
        if target.contract_state != "TERMINATED":
            return None
        self.record(target, "already_terminated")
        return {**result_fields(target), "outcome": ALREADY_TERMINATED, **({"dry_run": True} if dry_run else {})}

    def check_terminable(self, target: Target) -> None:
        if target.looked_up and not (isinstance(target.contract_state, str) and target.contract_state):
            self.record(target, "refused", error="NO_CONTRACT_STATE")
            raise VerificationError(
                _("WeChat's record of {who} has no contract_state: it cannot be checked, so nothing was sent").format(
                    who=for_terminal(target.out_user_id)),
                code="NO_CONTRACT_STATE",
            )
        if target.contract_state not in (None, "CONTRACTED"):
            raise self.refuse(
                target,
                _("the contract of {pupil} is {contract_state}, not CONTRACTED; nothing was sent").format(
                    pupil=for_terminal(target.out_user_id or target.user_id),
                    contract_state=for_terminal(target.contract_state)),
                code="NOT_CONTRACTED",
            )

    def dry_run(self, target: Target) -> dict:
        request = self.client.describe_signed("POST", api.terminate_path(target.organization_id, target.user_id))
        self.record(target, "dry_run")
        return {**result_fields(target), "outcome": WOULD_TERMINATE, "dry_run": True, "request": request}

    def run(self, target: Target) -> Steps[dict]:
        """Send the termination once; then re-query and report the new state.

        The "attempted" line is written first: if the audit log cannot take it,
        nothing is sent. The POST is never sent twice. A connection that could
        not be set up means it was not sent ("not_sent"). Any other failure
        after sending — no answer, any non-2xx status, a 2xx that fails
        verification — leaves the outcome open and is followed by a re-query
        ("unknown" unless it shows TERMINATED). Ctrl-C, SIGTERM or an
        unexpected error while the POST is in flight are recorded as "unknown"
        with the advice to check before anything else happens. Once WeChat's
        204 is verified the termination is reported as done, even if the
        re-query or the last audit line then fails.
        """
        call = api.terminate_contract(organization_id=target.organization_id, user_id=target.user_id)
        if target.out_user_id and (yield from self._still_contracted(target)) == "TERMINATED":
            self.record(target, "already_terminated")
            return {**result_fields(target), "contract_state": "TERMINATED", "outcome": ALREADY_TERMINATED,
                    "note": _("terminated since the lookup (by another run or operator): nothing was sent")}
        self._check_replay_memory(target)
        if self.claim is not None:
            try:
                self.claim.begin({**result_fields(target), "time": _now(), "profile": self.profile.name,
                                  "mchid": self.profile.mchid})
            except OSError as exc:
                raise AuditLogError(_("cannot record the attempt in {path}: {reason}; nothing was sent").format(
                    path=self.claim.path, reason=exc.strerror or exc)) from None
        try:
            self.record(target, "attempted")
        except KeyboardInterrupt as exc:  # the line may be on disk: close it, nothing was sent
            self._record_or_say(target, "not_sent", error=Interrupted.code)
            self._close_attempt()
            raise Interrupted(_("interrupted before the termination was sent: nothing was sent"),
                              signum=getattr(exc, "signum", None)) from exc
        try:
            answer = yield call
        except NetworkError as exc:
            if exc.never_sent:
                unrecorded = self._record_or_say(target, "not_sent", error=exc.code)
                self._close_attempt()
                raise exc.wrapped(
                    _("the termination was not sent: {reason}").format(reason=exc.message + unrecorded),
                    hint=_("nothing reached WeChat; it is safe to run it again once the connection works")) from exc
            return (yield from self._after_uncertain_answer(target, exc))
        except WxpayError as exc:  # any answer, even a 4xx, proves it was sent: ask, never resend
            return (yield from self._after_uncertain_answer(target, exc))
        except BaseException as exc:
            raise self._abandoned(target, exc) from exc
        result = {**result_fields(target), "contract_state": "TERMINATED", "outcome": TERMINATED,
                  "request_id": answer.request_id}
        notes = []
        try:
            try:
                self.record(target, "succeeded", http_status=answer.http_status, request_id=answer.request_id)
                self._close_attempt()
            except AuditLogError as exc:
                notes.append(_("terminated, but the audit log could not record it: {reason}").format(
                    reason=exc.message))
            if target.out_user_id:
                try:
                    result["contract_state"] = yield from self._current_state(target)
                except WxpayError as exc:
                    if exc.code == ANOTHER_PUPIL:  # not a note: something answers for another pupil
                        raise self._another_pupil(target, exc, answer.http_status, answer.request_id,
                                                  _("WeChat accepted the termination (a verified 204), but {reason}: "
                                                    "what happened to whom is not known")) from exc
                    notes.append(_("state from WeChat's verified 204; it could not be re-queried ({reason})").format(
                        reason=exc.message))
            else:
                notes.append(_("state from WeChat's verified 204; a pupil given by --user-id cannot be re-queried"))
        except KeyboardInterrupt as exc:  # done already: say so, not just "interrupted"
            raise Interrupted(_("interrupted after WeChat's verified answer: the contract of {who} was terminated "
                                "(TERMINATED)").format(who=for_terminal(target.out_user_id or target.user_id)),
                              signum=getattr(exc, "signum", None)) from exc
        if notes:
            result["note"] = "; ".join(notes)
        return result

    def _still_contracted(self, target: Target) -> Steps[str]:
        """Right before the POST, holding the claim: the pupil is queried again. Another machine or
        login (which no local claim can see) may have terminated them since the lookup: then the
        state, TERMINATED, is returned and nothing is sent (nothing is left to do)."""
        try:
            state = yield from self._current_state(target)
        except WxpayError as exc:
            self.record(target, "refused", error=exc.code)
            raise exc.wrapped(_("{reason}; nothing was sent").format(reason=exc.message)) from exc
        if state == "TERMINATED":
            return state
        if state != "CONTRACTED":
            raise self.refuse(target, _("the contract of {pupil} is now {contract_state}, not CONTRACTED; nothing "
                                        "was sent").format(pupil=for_terminal(target.out_user_id),
                                                           contract_state=for_terminal(state)),
                              code="NOT_CONTRACTED")
        return state

    def _close_attempt(self) -> None:
        """The outcome is known and recorded: the attempt is no longer open (local.attempts)."""
        if self.claim is not None:
            try:
                self.claim.close()
            except OSError:
                pass  # left open: the next run checks the pupil first, which is only slower

    def _check_replay_memory(self, target: Target) -> None:
        """The replay memory failed while this pupil was looked up (its warning was shown):
        the answers were checked within this run only, so nothing is sent."""
        memory = self.client.verifier.shared_nonces if self.client.verifier else None
        if memory is not None and memory.problem is not None:
            self.record(target, "refused", error="REPLAY_MEMORY")
            raise ConfigError(memory.problem + _("; a termination needs it, so nothing was sent"),
                              code="REPLAY_MEMORY")

    def _another_pupil(self, target: Target, exc: WxpayError, http_status, request_id, words: str) -> WxpayError:
        """A re-query answered for another pupil: recorded 'unknown', and the error to raise (exit 5)."""
        unrecorded = self._record_or_say(target, "unknown", http_status=http_status, request_id=request_id,
                                         error=exc.code)
        return exc.wrapped(words.format(reason=exc.message) + unrecorded,
                           hint=self._check_advice(target) + _("; check the pupil it named too"))

    def batch_row(self, target: Target, *, dry_run: bool) -> Steps[dict]:
        """One row of a batch, once its pupil is found (and known to be named by no earlier
        row: see batch.Claims): check, then terminate (or describe, for a dry run)."""
        self.check_terminable(target)
        if dry_run:
            return self.dry_run(target)
        return (yield from self.run(target))

    def _current_state(self, target: Target) -> Steps[str]:
        """The contract state WeChat reports now for exactly this pupil; VerificationError otherwise."""
        answer = yield api.get_user(organization_id=target.organization_id, out_user_id=target.out_user_id)
        data = answer.data
        named = (data.get("out_user_id"), data.get("organization_id"))
        if data.get("user_id") != target.user_id or named != (target.out_user_id, target.organization_id):
            raise VerificationError(
                _("the re-query answered for user_id {got} (pupil {pupil}), not {wanted}").format(
                    got=for_terminal(data.get("user_id")), pupil=for_terminal(named[0]),
                    wanted=for_terminal(target.user_id)),
                request_id=answer.request_id, code=ANOTHER_PUPIL)
        state = data.get("contract_state")
        if not isinstance(state, str) or not state:
            raise VerificationError(_("the re-query has no contract_state; it was not used"),
                                    request_id=answer.request_id)
        return state

    def _check_advice(self, target: Target) -> str:
        return _("check with `wxpay user show --user {user} --org {org}` before running it again").format(
            user=for_terminal(target.out_user_id or "OUT_USER_ID"), org=for_terminal(target.organization_id))

    def _record_or_say(self, target: Target, outcome: str, **fields) -> str:
        """Record `outcome`; if the audit log fails now, the words to add to the error (else "")."""
        try:
            self.record(target, outcome, **fields)
        except AuditLogError as failure:
            return _(" (and the audit log could not record it: {reason})").format(reason=failure.message)
        return ""

    def _abandoned(self, target: Target, exc: BaseException) -> BaseException:
        """Ctrl-C, SIGTERM, cancellation or a bug while the POST was in flight: record
        "unknown" and return what to raise (the error that says to check first)."""
        advice = self._check_advice(target)
        if isinstance(exc, KeyboardInterrupt):
            unrecorded = self._record_or_say(target, "unknown", error=Interrupted.code)
            return Interrupted(_("interrupted while the termination was in flight: "
                                 "it may or may not have happened") + unrecorded,
                               hint=advice, signum=getattr(exc, "signum", None))
        if isinstance(exc, Exception):
            unrecorded = self._record_or_say(target, "unknown", error=InternalError.code)
            return InternalError(_("unexpected error while the termination was in flight ({kind}): "
                                   "it may or may not have happened").format(kind=type(exc).__name__) + unrecorded,
                                 hint=advice + _("; rerun with --traceback to see the error"))
        # asyncio's CancelledError, GeneratorExit, SystemExit: recorded, and they keep their meaning
        self._record_or_say(target, "unknown", error=type(exc).__name__)
        return exc

    def _after_uncertain_answer(self, target: Target, exc: WxpayError) -> Steps[dict]:
        """The termination may or may not have happened: ask WeChat before deciding anything.

        Re-raises `exc` (keeping its exit code) with what is known added, unless
        a re-query bound to this pupil shows the contract TERMINATED.
        """
        state, requery_problem = None, None
        if target.out_user_id:
            try:
                state = yield from self._current_state(target)
            except WxpayError as failure:
                if failure.code == ANOTHER_PUPIL:
                    raise self._another_pupil(target, failure, exc.http_status, exc.request_id,
                                              _("the termination may or may not have happened ({error}), and "
                                                "{{reason}}").format(error=exc.message)) from exc
                requery_problem = failure.message
            except BaseException as interruption:
                raise self._abandoned(target, interruption) from interruption
        if state == "TERMINATED":
            unrecorded = self._record_or_say(target, "succeeded", http_status=exc.http_status,
                                             request_id=exc.request_id, error=f"confirmed by re-query after: {exc.code}")
            if not unrecorded:
                self._close_attempt()
            return {**result_fields(target), "contract_state": "TERMINATED", "outcome": TERMINATED,
                    "request_id": exc.request_id,
                    "note": _("confirmed by re-query after: {reason}").format(reason=exc.message + unrecorded)}
        message = exc.message + self._record_or_say(target, "unknown", http_status=exc.http_status,
                                                    request_id=exc.request_id, error=exc.code)
        if state is None:
            message += _("; the termination may or may not have happened")
            if requery_problem:
                message += _(" (the re-query failed too: {reason})").format(reason=requery_problem)
        else:
            message += _("; the contract was still {state} when re-queried, but WeChat may yet process "
                         "the request").format(state=for_terminal(state))
        raise exc.wrapped(message, hint=self._check_advice(target)) from exc


def _plain(name: str | None) -> str | None:
    """A name for the audit log: None when it is still encrypted (not decrypted: not known)."""
    return None if name is None or api.looks_encrypted(name) else name


def _now() -> str:
    from datetime import datetime

    return datetime.now().astimezone().isoformat(timespec="seconds")


def result_fields(target: Target) -> dict:
    return {
        "organization_id": target.organization_id,
        "out_user_id": target.out_user_id,
        "user_id": target.user_id,
        "contract_id": target.contract_id,
        "user_name": target.user_name,
        "class_name": target.class_name,
        "contract_state": target.contract_state,
    }
