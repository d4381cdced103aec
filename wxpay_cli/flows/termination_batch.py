"""Terminating a whole roster: the plan shown before anything is sent, consent for
all of it, and the work for one row.

The policies of a batch termination live here, so the command only reads the
roster, shows the plan, asks and renders:
- the plan counts distinct pupils (a pupil named by several rows is sent once,
  for the first row that names them: `batch.Claims`), repeats and unusable rows;
- off a terminal a batch termination needs --yes; a dry run needs neither;
- on a terminal every pupil is looked up first, read-only and concurrently
  (`look_first`), so the question is asked about the pupils that will really be
  terminated, by name; the run then works on exactly what was shown (nothing is
  looked up again but right before each POST), so a row shown as not to be
  terminated is never terminated;
- a row is decided in one order, in every mode: the pupil found, a pupil an
  earlier row names (DUPLICATE_ROW), the roster's name against WeChat's
  (flows/names.py), a contract already TERMINATED (a success: nothing left to
  do), a contract not CONTRACTED;
- a row's audit lines are on disk before its output line; a row that
  terminated keeps its result (with a note) when the audit log then fails, any
  other audit failure stops the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from wxpay_cli.errors import AuditLogError, Cancelled, OperationRefused, WxpayError
from wxpay_cli.flows import batch, steps
from wxpay_cli.flows.termination import (
    WOULD_TERMINATE,
    Target,
    Termination,
    check_local_state,
    result_fields,
)
from wxpay_cli.i18n import _
from wxpay_cli.local.audit import AuditLog
from wxpay_cli.local.config import Profile


@dataclass
class Plan:
    """What a roster asks for, before anything is looked up or sent."""

    rows: int
    unusable: int
    pupils: list[tuple[str, str, str]] = field(default_factory=list)  # (organization_id, by, id), input order
    organizations: list[str] = field(default_factory=list)

    @property
    def repeated(self) -> int:
        return self.rows - self.unusable - len(self.pupils)


def plan(rows: list) -> Plan:
    usable = [row for row in rows if not row.problem]
    pupils: dict[tuple[str, str, str], None] = {}  # distinct, in input order
    for row in usable:
        by = "out_user_id" if row.values.get("out_user_id") else "user_id"
        pupils.setdefault((row.values["organization_id"], by, row.values[by]), None)
    return Plan(rows=len(rows), unusable=len(rows) - len(usable), pupils=list(pupils),
                organizations=sorted({row.values["organization_id"] for row in usable}))


def check_before(audit: AuditLog, *, dry_run: bool, yes: bool, interactive: bool, replay_memory=None,
                 warn: Callable[[str], None] | None = None, mchid: str | None = None) -> None:
    """Before anything is looked up: raise unless the run may go on. The audit log is writable and
    the replay memory usable; off a terminal, --yes was given. A dry run needs neither."""
    if dry_run:
        return
    check_local_state(audit, replay_memory, warn, mchid)  # refuse before asking, looking up or sending anything
    if not yes and not interactive:
        raise OperationRefused(_("a batch termination off a terminal needs --yes: nothing was sent"),
                               hint=_("check the summary above, or try --dry-run first"), code="NOT_CONFIRMED")


@dataclass
class Preview:
    """Every row looked up and decided, nothing recorded or sent: what the question is about."""

    rows: list
    records: list[dict]  # one line a row, as a dry run writes it (without the signed request)
    found: dict[int, object]  # row number -> the Target found, or the error looking it up met

    @property
    def terminable(self) -> int:
        return tally(self.records)[0]


def tally(records: list[dict]) -> tuple[int, dict[str, int]]:
    """How many rows would be terminated, and why the others would not (ALREADY_TERMINATED,
    or the error code -> rows), in the order first met."""
    terminable, reasons = 0, {}
    for record in records:
        reason = (record.get("error") or {}).get("code") or record.get("outcome")
        if reason == WOULD_TERMINATE:
            terminable += 1
        else:
            reasons[reason] = reasons.get(reason, 0) + 1
    return terminable, reasons


def look_first(rows: list, profile: Profile, *, make_client, concurrency: int, names=None,
               ignore_names: bool = False) -> Preview:
    """Look every row's pupil up (read-only, through the batch engine) and decide it as the run
    would; nothing is recorded or sent. A fault that stops a run, or Ctrl-C, stops it here."""
    from wxpay_cli.errors import InputError, Interrupted
    from wxpay_cli.flows.batch_lines import CONTRACT_TERMINATE

    work = RowWork(profile, None, dry_run=False, names=names, ignore_names=ignore_names, preview=True)
    records: list[dict] = []
    summary = batch.run(rows, work, make_client=make_client, concurrency=concurrency, total=len(rows),
                        writer=_Collect(records), claims=work.claims, operation=CONTRACT_TERMINATE)
    if summary.fatal:
        number, exc = summary.fatal
        if isinstance(exc, InputError):
            raise exc
        where = summary.fatal_where or _("row {number}").format(number=number)
        raise exc.wrapped(_("looking the pupils up stopped at {where}: {message}; nothing was sent").format(
            where=where, message=exc.message))
    if summary.interrupted:
        raise Interrupted(_("interrupted while looking the pupils up: nothing was sent"), signum=summary.signum)
    return Preview(rows, records, work.found)


class _Collect:
    def __init__(self, records: list) -> None:
        self.records = records

    def write(self, record: dict) -> None:
        self.records.append(record)


def agree(preview: Preview, ask: Callable[[Preview], bool]) -> None:
    """The operator's yes on a terminal, asked once about the pupils that will be terminated (none
    to terminate: nothing to ask); raise when they say no."""
    if preview.terminable and not ask(preview):
        raise Cancelled(_("cancelled: nothing was terminated"), code="NOT_CONFIRMED")


class RowWork:
    """The work for one row (`await work(client, row)`), as the batch engine runs it.

    `preview`: decide only, record and send nothing (look_first). `looked_up`:
    the pupils look_first found, by row number, used instead of a new lookup.
    `names` (flows.names.RosterNames): the roster's name of each row's pupil."""

    def __init__(self, profile: Profile, audit: AuditLog | None, *, dry_run: bool,
                 warn: Callable[[str], None] | None = None, names=None, ignore_names: bool = False,
                 preview: bool = False, looked_up: dict[int, object] | None = None):
        self.profile = profile
        self.audit = audit
        self.dry_run = dry_run
        self.warn = warn  # what an earlier run left open, said to a person
        self.names = names
        self.ignore_names = ignore_names
        self.preview = preview
        self.looked_up = looked_up
        self.found: dict[int, object] = {}  # row number -> Target, or the error its lookup met
        self.claims = batch.Claims()  # which row reaches each pupil first, whatever the scheduling
        self._where: dict[int, str] = {}  # row number -> the row as the operator finds it (Row.where)

    async def __call__(self, client, row) -> dict:
        try:
            result = await self._one_row(client, row)
        except WxpayError as exc:
            await self._commit_audit(exc)
            raise
        await self._commit_audit(None, result)
        return result

    async def _target(self, client, termination: Termination, row) -> Target:
        """The row's pupil: as look_first found them, else looked up now."""
        known = self.looked_up.get(row.number) if self.looked_up is not None else None
        if isinstance(known, Target):
            return known
        if isinstance(known, WxpayError):
            raise known
        out_user_id = row.values.get("out_user_id")
        try:
            target = await steps.run_async(client, termination.find(
                organization_id=row.values["organization_id"], out_user_id=out_user_id,
                user_id=None if out_user_id else row.values.get("user_id")))
        except WxpayError as exc:
            self.found[row.number] = exc
            raise
        self.found[row.number] = target
        return target

    async def _one_row(self, client, row) -> dict:
        termination = Termination(client, self.profile, self.audit, warn=None if self.preview else self.warn,
                                  recording=not self.preview)
        self._where[row.number] = row.where  # rows start in input order: an earlier row is already here
        target = await self._target(client, termination, row)
        earlier = await self.claims.claim(row.number, (target.organization_id, target.user_id))
        if earlier is not None:
            raise termination.refuse(target, _("{earlier} already names this pupil (user_id {user_id}); "
                                               "each pupil is terminated once only").format(
                earlier=self._where[earlier], user_id=target.user_id), code=batch.DUPLICATE_ROW)
        termination.check_name(target, self.names.of(row) if self.names is not None else None,
                               ignore=self.ignore_names)
        if self.preview or self.dry_run:
            done = termination.already_terminated(target, dry_run=self.dry_run)
            if done is not None:
                return done
            if self.preview:
                termination.check_terminable(target)
                return {**result_fields(target), "outcome": WOULD_TERMINATE}
            return await steps.run_async(client, termination.batch_row(target, dry_run=True))
        with termination.claimed(target):  # no other wxpay run of this user terminates them meanwhile
            # An attempt an earlier run left open is settled on a query made now (holding the claim),
            # not on the state the question showed.
            await steps.run_async(client, termination.settle_left_open(target))
            done = termination.already_terminated(target)
            if done is not None:
                return done
            try:
                return await steps.run_async(client, termination.batch_row(target, dry_run=False))
            except WxpayError as exc:
                if termination.outcome == "unknown" and exc.hint:
                    # Single mode says what to do first as the error's hint; a row's line is all a batch
                    # has for that pupil, so the advice goes into its message (JSON keeps its keys).
                    raise exc.wrapped(_("{error}; {advice}").format(error=exc.message, advice=exc.hint)) from exc
                raise

    async def _commit_audit(self, failure: WxpayError | None, result: dict | None = None) -> None:
        """A row's audit lines are on disk before its output line. If they cannot be: a row that
        terminated keeps its result with a note; otherwise the run stops (AuditLogError)."""
        if self.audit is None:
            return
        try:
            await self.audit.commit()
        except AuditLogError as exc:
            if result is not None and failure is None:
                note = _("the audit log could not record it: {reason}").format(reason=exc.message)
                result["note"] = f"{result['note']}; {note}" if result.get("note") else note
                return
            if failure is not None:
                raise exc.wrapped(_("{error}; and {audit_error}").format(
                    error=failure.message, audit_error=exc.message)) from None
            raise exc from None
