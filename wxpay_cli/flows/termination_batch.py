"""Terminating a whole roster: the plan shown before anything is sent, consent for
all of it, and the work for one row.

The policies of a batch termination live here, so the command only reads the
roster, shows the plan, asks and renders:
- the plan counts distinct pupils (a pupil named by several rows is sent once,
  for the first row that names them: `batch.Claims`), repeats and unusable rows;
- off a terminal a batch termination needs --yes; a dry run needs neither;
- a row's audit lines are on disk before its output line; a row that
  terminated keeps its result (with a note) when the audit log then fails, any
  other audit failure stops the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from wxpay_cli.errors import AuditLogError, Cancelled, OperationRefused, WxpayError
from wxpay_cli.flows import batch, steps
from wxpay_cli.flows.termination import Termination, check_local_state
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


def agree(the_plan: Plan, audit: AuditLog, *, dry_run: bool, yes: bool,
          ask: Callable[[Plan], bool] | None, replay_memory=None, warn: Callable[[str], None] | None = None,
          mchid: str | None = None) -> None:
    """Raise unless the run may go on: the audit log is writable, the replay memory usable, and
    the operator said yes (--yes, or `ask` answered on a terminal; None: no terminal). A dry
    run needs no consent."""
    if dry_run:
        return
    check_local_state(audit, replay_memory, warn, mchid)  # refuse before asking, looking up or sending anything
    if yes:
        return
    if ask is None:
        raise OperationRefused(_("a batch termination off a terminal needs --yes: nothing was sent"),
                               hint=_("check the summary above, or try --dry-run first"), code="NOT_CONFIRMED")
    if not ask(the_plan):
        raise Cancelled(_("cancelled: nothing was terminated"), code="NOT_CONFIRMED")


class RowWork:
    """The work for one row (`await work(client, row)`), as the batch engine runs it."""

    def __init__(self, profile: Profile, audit: AuditLog, *, dry_run: bool,
                 warn: Callable[[str], None] | None = None):
        self.profile = profile
        self.audit = audit
        self.dry_run = dry_run
        self.warn = warn  # what an earlier run left open, said to a person
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

    async def _one_row(self, client, row) -> dict:
        termination = Termination(client, self.profile, self.audit, warn=self.warn)
        self._where[row.number] = row.where  # rows start in input order: an earlier row is already here
        out_user_id = row.values.get("out_user_id")
        target = await steps.run_async(client, termination.find(
            organization_id=row.values["organization_id"], out_user_id=out_user_id,
            user_id=None if out_user_id else row.values.get("user_id")))
        earlier = await self.claims.claim(row.number, (target.organization_id, target.user_id))
        if earlier is not None:
            raise termination.refuse(target, _("{earlier} already names this pupil (user_id {user_id}); "
                                               "each pupil is terminated once only").format(
                earlier=self._where[earlier], user_id=target.user_id), code="DUPLICATE_ROW")
        if self.dry_run:
            return await steps.run_async(client, termination.batch_row(target, dry_run=True))
        with termination.claimed(target):  # no other wxpay run of this user terminates them meanwhile
            await steps.run_async(client, termination.settle_left_open(target))
            return await steps.run_async(client, termination.batch_row(target, dry_run=False))

    async def _commit_audit(self, failure: WxpayError | None, result: dict | None = None) -> None:
        """A row's audit lines are on disk before its output line. If they cannot be: a row that
        terminated keeps its result with a note; otherwise the run stops (AuditLogError)."""
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
