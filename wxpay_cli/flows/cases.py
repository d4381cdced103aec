"""Cases (跟进): every pupil's handover, from the link to re-signing, folded from the audit log.

A case is one pupil of one merchant: keyed by (mchid, organization_id,
out_user_id), or by WeChat's user_id when the records never named the
out_user_id (a termination by --user-id whose pupil no other record names).
`Fold` takes the audit records in order and keeps, per case, its stage and
what the stage needs; it is pure (records in, cases out). Its rules:

- The newest record that changes the pupil's state wins. A link fetched:
  `link_fetched` (`link_expired` once its `expire_at` has passed: `since`
  is then the expiry). The operator's confirmation that the link was
  forwarded: `forwarded` (it does not undo a termination, nor reopen a
  closed case). A termination that succeeded, or found the contract
  terminated already: `terminated` (the family must sign again). One that
  ended `unknown`: `unknown`. A refusal about the pupil (WeChat's 4xx, a
  name that is not WeChat's, a contract not CONTRACTED, a link to an
  unexpected host):
  `refused`, with the reason.
- Dry runs, declined questions, `attempted` and `not_sent` lines, and refusals
  that say nothing about the pupil (no consent, another run busy with the
  pupil, a row listed twice, the local replay memory) change nothing.
- A later ALREADY_TERMINATED never reopens a case that is terminated or closed.
- Observations (`--refresh`'s read-only user queries, operation `observe`):
  after `unknown`, TERMINATED or NOT_CONTRACTED means the termination
  happened (`terminated`, from the time of that attempt); CONTRACTED under the
  contract the termination was about means it did not happen, and the case
  goes back to the stage it had before (`refused`, STILL_CONTRACTED, when it had
  none: TERMINATED or NOT_CONTRACTED later still means it happened); CONTRACTED
  under another contract than the one terminated is `resigned` (closed). A link
  fetched or forwarded whose pupil WeChat reports TERMINATED is `terminated`.

`read` folds a log through the index beside it (local/case_index.py): only
the lines added since the last run are read. `observe` is the read-only user
query `--refresh` makes per open case, recorded as an observation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from wxpay_cli.errors import VerificationError
from wxpay_cli.flows.steps import Steps
from wxpay_cli.i18n import _
from wxpay_cli.local import case_index
from wxpay_cli.local.audit import AuditLog
from wxpay_cli.sanitise import for_terminal
from wxpay_cli.wire import api

KIND = "cases-2"  # the fold's name and version in the index: a change of rules rebuilds it

# The stable values of a case's stage (JSON, filters), in the order a case lives them.
LINK_FETCHED, LINK_EXPIRED, FORWARDED = "link_fetched", "link_expired", "forwarded"
UNKNOWN, TERMINATED, RESIGNED, REFUSED = "unknown", "terminated", "resigned", "refused"
STAGES = (LINK_FETCHED, LINK_EXPIRED, FORWARDED, UNKNOWN, TERMINATED, RESIGNED, REFUSED)
CLOSED = frozenset({RESIGNED})

# Operations of the audit log: a link, a termination, the operator's word that a link was
# forwarded, a read-only observation (`--refresh`).
LINK, TERMINATE, FORWARD, OBSERVE = "repayment_url", "terminate", "forward", "observe"
OPERATIONS = frozenset({LINK, TERMINATE, FORWARD, OBSERVE})
CONFIRMED, OBSERVED = "confirmed", "observed"  # their outcomes

# Refusals that say something about the pupil (wxpay's own; WeChat's are its 4xx answers).
PUPIL_REFUSALS = frozenset({"NOT_CONTRACTED", "NAME_MISMATCH", "NAME_UNAVAILABLE", "NO_CONTRACT_STATE",
                            "PUPIL_NOT_NAMED", "LINK_HOST", "ANOTHER_PUPIL"})
NOT_ABOUT_THE_PUPIL = frozenset({401, 429})  # credentials, rate: another day they pass
STILL_CONTRACTED = "STILL_CONTRACTED"  # an `unknown` termination found not to have happened, nothing before it
ENDED = ("TERMINATED", "NOT_CONTRACTED")  # contract states after a termination


def _refusal(record: dict) -> str | None:
    """The reason, when this failed or refused record says the pupil's case was refused."""
    error = record.get("error")
    status = record.get("http_status")
    code = error if isinstance(error, str) else None
    if isinstance(status, int) and 400 <= status < 500 and status not in NOT_ABOUT_THE_PUPIL:
        return code or f"HTTP {status}"
    if code in PUPIL_REFUSALS:
        return code
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class Fold:
    """The cases of a log, record by record (`add`); `state()` is what the index keeps."""

    def __init__(self, state: dict | None = None):
        state = state or {}
        self.cases: dict[str, dict] = state.get("cases", {})
        self.user_ids: dict[str, str] = state.get("user_ids", {})  # mchid\norg\nuser_id -> out_user_id

    def state(self) -> dict:
        return {"cases": self.cases, "user_ids": self.user_ids}

    def add(self, record: dict, number: int) -> None:
        """Fold one record (its line `number` orders the cases by their newest activity)."""
        # The hot loop of a first reading (a million lines): the checks of _text, written inline.
        get = record.get
        operation = get("operation")
        if operation not in OPERATIONS:
            return
        org, out, uid, mchid = get("organization_id"), get("out_user_id"), get("user_id"), get("mchid")
        if org.__class__ is not str or not org:
            return
        if out.__class__ is not str or not out:
            out = None
        if uid.__class__ is not str or not uid:
            uid = None
            if out is None:
                return
        if mchid.__class__ is not str:
            mchid = ""
        if out is not None:
            if uid is not None:
                self.user_ids[f"{mchid}\n{org}\n{uid}"] = out
            key = f"{mchid}\n{org}\no\n{out}"
        else:
            known = self.user_ids.get(f"{mchid}\n{org}\n{uid}")
            key = f"{mchid}\n{org}\no\n{known}" if known is not None else f"{mchid}\n{org}\nu\n{uid}"
            out = known
        case = self.cases.get(key)
        if case is None:
            case = self.cases[key] = {"mchid": mchid, "org": org, "out": out, "uid": uid, "stage": None}
        if operation != OBSERVE:  # an observation is activity only when it changes the stage (below)
            case["last"] = number
        if uid is not None:
            case["uid"] = uid
        name, group = get("user_name"), get("class_name")
        if name.__class__ is str and name:
            case["name"] = name
        if group.__class__ is str and group:
            case["class"] = group
        outcome = record.get("outcome")
        contract = _text(record.get("contract_id"))
        if operation == TERMINATE and contract is not None:
            case["known_contract"] = contract  # the contract a termination is about
        stage = case["stage"]
        if operation == LINK:
            if outcome == "fetched":
                case["linked"] = _text(record.get("time")) or "?"
                self._move(case, LINK_FETCHED, record, expire=_text(record.get("expire_at")))
            elif outcome in ("failed", "refused") and (reason := _refusal(record)):
                self._move(case, REFUSED, record, reason=reason)
        elif operation == TERMINATE:
            if outcome == "succeeded":
                self._terminated(case, record, contract)
            elif outcome == "already_terminated":
                if stage not in (TERMINATED, RESIGNED):
                    self._terminated(case, record, contract)
            elif outcome == "unknown":
                before = case.get("before") if stage == UNKNOWN else _before(case)
                self._move(case, UNKNOWN, record, reason=_text(record.get("error")),
                           contract=contract or case.get("known_contract"))
                case["before"] = before
            elif outcome == "refused" and (reason := _refusal(record)):
                self._move(case, REFUSED, record, reason=reason)
            elif outcome == "checked" and stage == UNKNOWN:
                # An earlier run's open attempt, checked: "LEFT_OPEN: CONTRACTED" means it did not happen.
                error = _text(record.get("error")) or ""
                if error.endswith(": CONTRACTED"):
                    self._back(case)
        elif operation == FORWARD and stage != RESIGNED:  # a late word on an old link never reopens a case
            if outcome == CONFIRMED and stage not in (UNKNOWN, TERMINATED):
                self._move(case, FORWARDED, record, expire=case.get("expire"))
        elif operation == OBSERVE and outcome == OBSERVED:
            self._observed(case, record, _text(record.get("contract_state")), contract)
            if case["stage"] != stage:
                case["last"] = number

    def _observed(self, case: dict, record: dict, state: str | None, contract: str | None) -> None:
        stage = case["stage"]
        ended = case.get("contract")
        # An `unknown` termination found still CONTRACTED (nothing before it) that WeChat carried
        # out later after all: it happened at that attempt, like an `unknown` one found ended.
        if stage == UNKNOWN or (stage == REFUSED and case.get("reason") == STILL_CONTRACTED and state in ENDED):
            if state in ENDED:
                case["stage"], case["reason"] = TERMINATED, None
                case.pop("before", None)
                case["contract"] = ended or contract
            elif state == "CONTRACTED":
                if ended is not None and contract is not None and contract != ended:
                    self._move(case, RESIGNED, record, contract=contract)
                else:
                    self._back(case)
        elif stage == TERMINATED:
            if state == "CONTRACTED" and contract is not None and contract != ended:
                self._move(case, RESIGNED, record, contract=contract)
        elif stage in (LINK_FETCHED, FORWARDED) and state == "TERMINATED":
            self._move(case, TERMINATED, record, contract=contract)

    def _terminated(self, case: dict, record: dict, contract: str | None) -> None:
        if case["stage"] == UNKNOWN:  # it happened at that attempt: its time and operator stay
            case["stage"], case["reason"] = TERMINATED, None
            case.pop("before", None)
            case["contract"] = case.get("contract") or contract
            return
        self._move(case, TERMINATED, record, contract=contract or case.get("known_contract"))

    def _back(self, case: dict) -> None:
        """An `unknown` termination did not happen: the stage before it again."""
        before = case.pop("before", None)
        if before is None:
            case.update(stage=REFUSED, reason=STILL_CONTRACTED)
            return
        case.update(before)

    @staticmethod
    def _move(case: dict, stage: str, record: dict, *, expire: str | None = None, reason: str | None = None,
              contract: str | None = None) -> None:
        case.update(stage=stage, since=_text(record.get("time")), operator=_text(record.get("operator")),
                    expire=expire, reason=reason, contract=contract)
        case.pop("before", None)


_TEXTS = ("since", "operator", "expire", "reason", "contract")  # what a stage carries: text or None


def _well_formed(state: dict) -> bool:
    """Whether an index's `state` has the shape `Fold.state()` gives: one edited by hand or
    damaged inside its JSON is set aside (the log is read whole), never folded on or listed."""
    cases, user_ids = state.get("cases"), state.get("user_ids")
    if not isinstance(cases, dict) or not isinstance(user_ids, dict):
        return False
    if not all(isinstance(value, str) for value in user_ids.values()):
        return False

    def text(value) -> bool:
        return value is None or isinstance(value, str)

    def stage_of(values: dict) -> bool:
        return values.get("stage") in STAGES and all(text(values.get(name)) for name in _TEXTS)

    for case in cases.values():
        if not isinstance(case, dict) or not all(isinstance(case.get(name), str) for name in ("mchid", "org")):
            return False
        if not all(text(case.get(name)) for name in ("out", "uid", "name", "class", "linked", "known_contract")):
            return False
        if "stage" not in case or not isinstance(case.get("last", 0), int):
            return False
        if not (case["stage"] is None or stage_of(case)):
            return False
        before = case.get("before")
        if before is not None and not (isinstance(before, dict) and stage_of(before)):
            return False
    return True


def _before(case: dict) -> dict | None:
    if case["stage"] is None:
        return None
    return {name: case.get(name) for name in ("stage", "since", "operator", "expire", "reason", "contract")}


@dataclass
class Case:
    """One pupil's case as listed (`stage` as of `now`: a link past its expiry is `link_expired`)."""

    organization_id: str
    out_user_id: str | None
    user_id: str | None
    user_name: str | None
    class_name: str | None
    stage: str
    since: str | None
    operator: str | None
    expire_at: str | None = None
    contract_id: str | None = None
    reason: str | None = None
    mchid: str = ""
    last: int = field(default=0, repr=False)  # the line of its newest record
    link_fetched_at: str | None = field(default=None, repr=False)  # the newest link's time

    @property
    def open(self) -> bool:
        return self.stage not in CLOSED


def listed(fold: Fold, mchid: str, now: datetime | None = None) -> list[Case]:
    """The cases of merchant `mchid` that have a stage, newest activity first."""
    from wxpay_cli.terminal import times

    now = now or datetime.now().astimezone()
    found = []
    for case in fold.cases.values():
        if case["mchid"] != mchid or case["stage"] is None:
            continue
        stage, since = case["stage"], case.get("since")
        if stage == LINK_FETCHED and case.get("expire"):
            expiry = times.parse(case["expire"])
            if expiry is not None and expiry <= now:
                stage, since = LINK_EXPIRED, case["expire"]
        found.append(Case(organization_id=case["org"], out_user_id=case.get("out"), user_id=case.get("uid"),
                          user_name=case.get("name"), class_name=case.get("class"), stage=stage, since=since,
                          operator=case.get("operator"), expire_at=case.get("expire"),
                          contract_id=case.get("contract"), reason=case.get("reason"), mchid=mchid,
                          last=case.get("last", 0), link_fetched_at=case.get("linked")))
    found.sort(key=lambda case: case.last, reverse=True)
    return found


def select(cases: list[Case], *, organization_id: str | None = None, stage: str | None = None,
           since: datetime | None = None, operator: str | None = None, open_only: bool = False,
           pupil: str | None = None) -> list[Case]:
    """The cases every given filter lets through (`since`: reached their stage at or after it)."""
    from wxpay_cli.terminal import times

    wanted_operator = operator.casefold() if operator else None
    chosen = []
    for case in cases:
        if organization_id and case.organization_id != organization_id:
            continue
        if stage and case.stage != stage:
            continue
        if open_only and not case.open:
            continue
        if pupil and pupil not in (case.out_user_id, case.user_id):
            continue
        if wanted_operator and (case.operator or "").casefold() != wanted_operator:
            continue
        if since:
            moment = times.parse(case.since)
            if moment is None or moment < since:
                continue
        chosen.append(case)
    return chosen


@dataclass
class Reading:
    """What `read` found: the fold, and the damaged lines (the first few numbers, and how many)."""

    fold: Fold
    damaged: list[int]
    damaged_count: int
    path: Path


def read(log: AuditLog, *, use_index: bool = True) -> Reading:
    """Fold the whole log `log`, through its index: only what was added since the index was
    written is read, and the index is brought up to date (when it can be: else nothing fails).
    A last line without its newline (cut short, or being written) is folded for this reading
    only, never into the index. AuditLogError when the log cannot be read."""
    from wxpay_cli.local import audit

    scan = audit.scan(log.path)
    if scan is None:
        return Reading(Fold(), [], 0, log.path)
    saved = case_index.load(log.path, KIND, scan.identity, scan.size) if use_index else None
    if saved is not None and not _well_formed(saved.state):
        saved = None
    fresh = saved is None
    saved = saved or case_index.Saved()
    fold = Fold(saved.state)
    scan.offset, scan.line = saved.offset, saved.line
    damaged, count = saved.damaged, saved.damaged_count
    add = fold.add
    for number, record in scan.records():
        if record is None:
            count += 1
            if len(damaged) < case_index.MAX_DAMAGED:
                damaged.append(number)
        else:
            add(record, number)
    if use_index and (fresh or scan.offset != saved.offset):
        case_index.save(log.path, KIND, scan.identity, case_index.Saved(
            offset=scan.offset, line=scan.line, damaged=damaged, damaged_count=count, state=fold.state()))
    if scan.tail.strip():
        record = scan.tail_record()
        if record is None:
            damaged, count = [*damaged, scan.tail_line][:case_index.MAX_DAMAGED], count + 1
        else:
            fold.add(record, scan.tail_line)
    return Reading(fold, damaged, count, log.path)


def observe(case: Case, audit: AuditLog, profile) -> Steps[dict]:
    """One read-only user query for an open case, bound to its pupil; what it says is recorded as an
    observation (operation `observe`, outcome `observed`) with the contract's state and id."""
    from wxpay_cli.terminal.message import pupil_facts

    answer = yield api.get_user(organization_id=case.organization_id, out_user_id=case.out_user_id)
    data = answer.data
    if (data.get("out_user_id"), data.get("organization_id")) != (case.out_user_id, case.organization_id):
        raise VerificationError(
            _("WeChat's answer did not name the pupil {pupil} of organization {org} (out_user_id and "
              "organization_id must be in it, exactly as asked): it was not used").format(
                pupil=for_terminal(case.out_user_id), org=for_terminal(case.organization_id)),
            code="PUPIL_NOT_NAMED", request_id=answer.request_id)
    state = data.get("contract_state")
    if not isinstance(state, str) or not state:
        raise VerificationError(_("WeChat's record of {who} has no contract_state: it was not used").format(
            who=for_terminal(case.out_user_id)), code="NO_CONTRACT_STATE", request_id=answer.request_id)
    name, group = pupil_facts(data)
    audit.append(operator=profile.operator, profile=profile.name, mchid=profile.mchid, operation=OBSERVE,
                 organization_id=case.organization_id, out_user_id=case.out_user_id,
                 user_id=_text(data.get("user_id")), contract_id=_text(data.get("contract_id")),
                 outcome=OBSERVED, http_status=answer.http_status, request_id=answer.request_id,
                 user_name=name, class_name=group, contract_state=state)
    return {"contract_state": state, "contract_id": data.get("contract_id")}


def record_forwarded(audit: AuditLog, profile, *, organization_id: str, out_user_id: str,
                     pupil: dict | None = None, expire_at: str | None = None) -> dict:
    """The operator's word that the link reached the family (operation `forward`, outcome
    `confirmed`): a record only, nothing is fetched or sent. AuditLogError when it cannot be written."""
    from wxpay_cli.terminal.message import pupil_facts

    name, group = pupil_facts(pupil)
    return audit.append(operator=profile.operator, profile=profile.name, mchid=profile.mchid, operation=FORWARD,
                        organization_id=organization_id, out_user_id=out_user_id,
                        user_id=_text((pupil or {}).get("user_id")), outcome=CONFIRMED, expire_at=expire_at,
                        user_name=name, class_name=group)
