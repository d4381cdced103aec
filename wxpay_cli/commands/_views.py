"""The tables a person reads about a pupil, a link, a contract and a termination.

Flows hand back data (WeChat's answers, a termination `Target`, result
dicts); these functions turn it into `View`s labelled in the operator's
language. The data in a `View` is what JSON output shows, unchanged.
"""

from __future__ import annotations

from datetime import datetime

from wxpay_cli.i18n import N_, _, ngettext
from wxpay_cli.sanitise import for_terminal
from wxpay_cli.terminal.output import View, table_rows

USER_LABELS = [
    ("user_name", N_("Name")),
    ("user_id", N_("WeChat user_id")),
    ("out_user_id", N_("Pupil (out_user_id)")),
    ("organization_id", N_("Organization")),
    ("user_type", N_("Type")),
    ("status", N_("Status")),
    ("contract_state", N_("Contract state")),
    ("contract_id", N_("Contract")),
    ("face_image_ok", N_("Face image OK")),
]

CONTRACT_LABELS = [
    ("contract_id", N_("Contract")),
    ("contract_state", N_("State")),
    ("user_id", N_("WeChat user_id")),
    ("organization_id", N_("Organization")),
    ("mchid", N_("Merchant (mchid)")),
    ("openid", "openid"),
    ("contract_signed_time", N_("Signed")),
    ("contract_terminated_time", N_("Terminated")),
    ("contract_mode", N_("Mode")),
    ("contract_bank_card_from", N_("Bank card from")),
]


def user_view(data: dict) -> View:
    rows = table_rows(data, USER_LABELS)
    if (data.get("student_info") or {}).get("class_name"):
        rows.insert(1, (_("Class"), data["student_info"]["class_name"]))
    if (data.get("staff_info") or {}).get("occupation"):
        rows.insert(1, (_("Occupation"), data["staff_info"]["occupation"]))
    return View(data=data, rows=rows, title=_("Face-payment user"))


def repayment_view(profile, data: dict, out_user_id: str, organization_id: str, user: dict | None = None) -> View:
    """A verified link, with the pupil's name and class when WeChat's user query gave them."""
    from wxpay_cli.terminal import times
    from wxpay_cli.terminal.message import pupil_facts
    from wxpay_cli.wire.shapes import link_host

    expire = datetime.fromisoformat(data["expire_at"])
    name, group = pupil_facts(user)
    known = [(_("Name"), for_terminal(name))] if name else []
    known += [(_("Class"), for_terminal(group))] if group else []
    return View(
        data=data,
        title=_("Repayment link"),
        rows=[
            (_("Opens"), link_host(data["repayment_url"])),
            (_("Expires"), f"{times.local(expire)} ({times.relative(expire)})"),
            *known,
            (_("Pupil (out_user_id)"), out_user_id),
            (_("Organization"), organization_id),
            (_("Profile"), profile.name),
            (_("Merchant (mchid)"), profile.mchid),
        ],
        blocks=[_("Repayment link (forward it whole):"), data["repayment_url"]],
    )


def contract_view(data: dict) -> View:
    from wxpay_cli.terminal import times

    shown = {key: times.local(value) if key.endswith("_time") else value for key, value in data.items()}
    return View(data=data, rows=table_rows(shown, CONTRACT_LABELS), title=_("Contract"))


def target_rows(target, *, with_state: bool = True) -> list[tuple[str, object]]:
    """The pupil and contract a termination is about (a flows.termination.Target)."""
    rows = [
        (_("Name"), target.user_name or _("(unknown)")),
        (_("Class"), target.class_name or _("(unknown)")),
        (_("Pupil (out_user_id)"), target.out_user_id or _("(not given)")),
        (_("WeChat user_id"), target.user_id),
        (_("Organization"), target.organization_id),
        (_("Contract"), target.contract_id or _("(unknown)")),
    ]
    if with_state:
        rows.append((_("Contract state"), target.contract_state or _("(unknown: looked up by --user-id)")))
    return rows


def target_view(target) -> View:
    return View(data=target.as_dict(), rows=target_rows(target), title=_("To terminate"))


def dry_run_view(result: dict) -> View:
    request = result["request"]
    rows = [(_("Would send"), f"{request['method']} {request['url']}")]
    rows += [(name, value) for name, value in request["headers"].items()]
    rows.append((_("Body"), request["body"] or _("(empty)")))
    return View(data=result, rows=rows, title=_("Dry run: no termination was sent"))


def terminated_view(target, result: dict) -> View:
    from wxpay_cli.flows.termination import ALREADY_TERMINATED

    rows = [(_("Contract state"), result["contract_state"]), *target_rows(target, with_state=False)]
    if result.get("request_id"):
        rows.append((_("Request-ID"), result["request_id"]))
    if result.get("note"):
        rows.append((_("Note"), result["note"]))
    if result.get("outcome") == ALREADY_TERMINATED:
        title = _("Already terminated: nothing was left to do, nothing was sent")
    else:
        title = _("Contract terminated")
    return View(data=result, rows=rows, title=title)


def termination_plan_text(plan, profile, *, dry_run: bool, looking: bool = False) -> str:
    """The one-paragraph summary shown before a batch termination (a flows.termination_batch.Plan):
    the pupils the roster names, before any is looked up. `looking`: they are looked up next, and
    the question comes after."""
    if looking:
        text = _("looking up the {pupils} pupils the roster names")
    elif dry_run:
        text = _("dry run: looking up the {pupils} pupils the roster names")
    else:
        text = _("about to terminate the contracts of {pupils} pupils")
    text = text.format(pupils=len(plan.pupils))
    names = [value if by == "out_user_id" else f"user_id {value}" for _org, by, value in plan.pupils]
    return text + _(" ({rows} rows: {repeated} repeat a pupil, {unusable} unusable) with profile {profile} "
                    "(mchid {mchid}), organizations: {organizations}; pupils: {names}").format(
        rows=plan.rows, repeated=plan.repeated, unusable=plan.unusable,
        profile=for_terminal(profile.name), mchid=for_terminal(profile.mchid),
        organizations=for_terminal(_first(plan.organizations)), names=for_terminal(_first(names, 10)))


def _first(names: list[str], count: int = 5) -> str:
    return _(", ").join(names[:count]) + (_(" and {more} more").format(more=len(names) - count)
                                       if len(names) > count else "")


def termination_table(rows: list, records: list[dict], found: dict, roster_names=None, *,
                      dry_run: bool) -> View:
    """Who a batch termination is about, one table row per input row (before the question, and for a
    dry run): the roster's name beside WeChat's, class, state, what will happen. Nothing is cut:
    cells wrap or fold at any width, and why a row is left alone is written whole below the table.
    `found`: row number -> the Target looked up (flows.termination_batch.RowWork.found)."""
    from wxpay_cli.flows.names import readable
    from wxpay_cli.flows.termination import ALREADY_TERMINATED, WOULD_TERMINATE, Target

    with_roster = roster_names is not None and any(roster_names.of(row) is not None for row in rows)
    lines, reasons = [], []
    for row, record in zip(rows, records, strict=False):
        target = found.get(row.number)
        target = target if isinstance(target, Target) else None
        pupil = row.values.get("out_user_id") or row.values.get("user_id") or record.get("out_user_id") or ""
        if target is not None and not target.looked_up:
            pupil = _("user_id {user_id}").format(user_id=target.user_id)
            state = _("(not looked up)")
        else:
            state = (target.contract_state if target else None) or ""
        wechat_name = target.user_name if target else None
        shown_name = readable(wechat_name) or (_("(encrypted)") if wechat_name else "")
        error = record.get("error")
        if error:
            happens = _("nothing: {code}").format(code=error.get("code"))
            reasons.append(error.get("message") or "")  # it names its row (flows/batch.error_object)
        elif record.get("outcome") == ALREADY_TERMINATED:
            happens = _("nothing: already terminated")
        elif record.get("outcome") == WOULD_TERMINATE:
            happens = _("terminate")
        else:
            happens = ""
        cells = [row.line if row.line is not None else row.number, pupil]  # as Excel numbers it (Row.where)
        if with_roster:
            cells.append(roster_names.of(row) or "")
        cells += [shown_name, (target.class_name if target else None) or "", state, happens]
        lines.append(tuple(cells))
    headings = [_("Row"), _("Pupil")] + ([_("Roster name")] if with_roster else [])
    headings += [_("WeChat name"), _("Class"), _("State"), _("What would happen") if dry_run else _("What will happen")]
    return View(data=records, rows=lines, columns=tuple(headings), wrap=True,
                title=_("Dry run: nothing was sent") if dry_run else _("To terminate"),
                blocks=[""] + reasons if reasons else [])


def left_alone_text(reasons: dict[str, int]) -> str:
    """'already terminated: 1, DUPLICATE_ROW: 2' (the codes are WeChat's and wxpay's, as in the lines)."""
    from wxpay_cli.flows.termination import ALREADY_TERMINATED

    return _(", ").join(_("{reason}: {count}").format(
        reason=_("already terminated") if reason == ALREADY_TERMINATED else reason, count=count)
        for reason, count in reasons.items())


def preview_text(terminable: int, reasons: dict[str, int], profile) -> str:
    """The line under the table before the question: how many will be terminated, and the rest."""
    rest = sum(reasons.values())
    others = ngettext("nothing is done for {count} row ({reasons})", "nothing is done for {count} rows ({reasons})",
                      rest).format(count=rest, reasons=left_alone_text(reasons)) if rest else ""
    if not terminable:
        return _("nothing to terminate") + (_(": ") + others if others else "")
    text = ngettext("about to terminate the contract of {pupils} pupil with profile {profile} (mchid {mchid})",
                    "about to terminate the contracts of {pupils} pupils with profile {profile} (mchid {mchid})",
                    terminable).format(pupils=terminable, profile=for_terminal(profile.name),
                                       mchid=for_terminal(profile.mchid))
    return text + (_("; ") + others if others else "")


def dry_run_count_text(terminable: int, reasons: dict[str, int]) -> str:
    """The line after a batch dry run's table: how many would be terminated, and the rest."""
    rest = sum(reasons.values())
    text = ngettext("dry run: {count} pupil would be terminated", "dry run: {count} pupils would be terminated",
                    terminable).format(count=terminable)
    if rest:
        text += _("; ") + ngettext("nothing would be done for {count} row ({reasons})",
                                   "nothing would be done for {count} rows ({reasons})", rest).format(
            count=rest, reasons=left_alone_text(reasons))
    return text + _("; nothing was sent")


class DryRunTable:
    """A batch dry run on a terminal: `termination_table` of every row, drawn at the end."""

    def __init__(self, rows: list, found: dict, roster_names=None) -> None:
        self.rows = rows
        self.found = found
        self.roster_names = roster_names
        self.records: list[dict] = []

    def write(self, record: dict) -> None:
        self.records.append(record)

    def view(self) -> View:
        return termination_table(self.rows, self.records, self.found, self.roster_names, dry_run=True)
