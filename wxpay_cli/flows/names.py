"""The name the operator has, compared with the name WeChat has, before anything is decided.

An id typed or pasted wrong (a digit off, a leading 0 lost in Excel) can name
another real pupil; the name next to it in the roster is what tells. So when
the operator gives a name (`--name` for one pupil, a roster's 姓名 / name
column, or the column `--name-column` names), it is compared with WeChat's
`user_name` before a link is shown or written and before a termination is sent:

- the same name, once whitespace, full width, case, invisible marks and the
  middle dot of a minority name (·, ・) are folded (`fold`): go on;
- another name: NAME_MISMATCH;
- a name that cannot be compared (WeChat gives none, or one still encrypted
  for another key; the roster's cell is blank; a pupil given only by WeChat's
  user_id, which is never looked up): NAME_UNAVAILABLE, which counts as a
  mismatch.

Either stops that pupil unless the operator passes --ignore-name-mismatch.
A roster's name column may not be `user_name`: that is WeChat's result column
in the output lines (flows/batch_lines.py).

An id a workbook holds as a number (12346 may be 0012346 that lost its 0s, and
then another pupil's id) goes ahead only when the row's name is WeChat's name
for the pupil it names (`confirm_number`), or with --accept-numeric-ids. A name
that differs or cannot be compared, or a pupil WeChat does not have, makes the
row INVALID_ROW (not NAME_MISMATCH: what is wrong is the cell, and the fix is in
Excel, retyping the ids as Text; --ignore-name-mismatch does not let it through,
since the name is the only proof the number is the id).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from wxpay_cli.errors import InputError, OperationRefused
from wxpay_cli.i18n import _
from wxpay_cli.sanitise import for_terminal

NAME_MISMATCH = "NAME_MISMATCH"
NAME_UNAVAILABLE = "NAME_UNAVAILABLE"
NAME_COLUMNS = ("姓名", "name")  # a roster column so named (any case, spaces around) is the pupil's name
WECHAT_NAME = "user_name"  # WeChat's name in results: never a roster's own name column

# The middle dot between the parts of a minority name, as different keyboards type it.
_DOTS = str.maketrans({dot: "·" for dot in "\u2022\u2027\u2219\u22c5\u30fb\uff65\u0387\u16eb\u2e31"})


def fold(name: str) -> str:
    """`name` as compared: NFKC (full width to half width), no whitespace or invisible
    format characters (a BOM, a zero-width space), one middle dot, case folded."""
    text = unicodedata.normalize("NFKC", name).translate(_DOTS)
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf").casefold()


@dataclass(frozen=True)
class Difference:
    """Why a name stops a pupil: NAME_MISMATCH or NAME_UNAVAILABLE, in words."""

    code: str
    message: str


def readable(wechat_name: object) -> str | None:
    """WeChat's name as a person reads it, or None when it gives none readable."""
    from wxpay_cli.wire.api import looks_encrypted

    if not isinstance(wechat_name, str) or not wechat_name.strip() or looks_encrypted(wechat_name.strip()):
        return None
    return wechat_name


def compare(given: str, wechat_name: object, *, who: str | None = None) -> Difference | None:
    """None when `given` is WeChat's `wechat_name` (folded); else why not. `who` names the pupil."""
    pupil = for_terminal(who) if who else _("this pupil")
    if not fold(given):
        return Difference(NAME_UNAVAILABLE, _("the roster gives no name for {pupil}: it cannot be compared with "
                                              "WeChat's").format(pupil=pupil))
    wechat = readable(wechat_name)
    if wechat is None:
        return Difference(NAME_UNAVAILABLE, _("WeChat gives no readable name for {pupil} (none, or one encrypted "
                                              "for another key): it cannot be compared with {given}").format(
            pupil=pupil, given=for_terminal(given.strip())))
    if fold(given) != fold(wechat):
        return Difference(NAME_MISMATCH, _("the name given, {given}, is not WeChat's name for {pupil}, {wechat}: "
                                           "check the id").format(given=for_terminal(given.strip()), pupil=pupil,
                                                                  wechat=for_terminal(wechat.strip())))
    return None


def not_by_user_id(user_id: str) -> Difference:
    """A pupil given only by WeChat's user_id is not looked up: no name to compare."""
    return Difference(NAME_UNAVAILABLE, _("user_id {user_id} is not looked up, so WeChat's name cannot be compared "
                                          "with the roster's").format(user_id=for_terminal(user_id)))


def refusal(difference: Difference, *, nothing: str) -> OperationRefused:
    """The error that stops the pupil (exit 1; in a batch, the row's): `nothing` says what was not done."""
    return OperationRefused(_("{reason}; {nothing}").format(reason=difference.message, nothing=nothing),
                            code=difference.code,
                            hint=_("correct the id or the name; if the name is known to differ, pass "
                                   "--ignore-name-mismatch"))


INVALID_ROW = "INVALID_ROW"


def confirm_number(row, given: str | None, wechat_name: object = None, *, found: bool = True,
                   looked_up: bool = True) -> OperationRefused | None:
    """None when WeChat's name for the pupil a row's number names (`wechat_name`) is the row's own
    (`given`); else the row's INVALID_ROW, saying what to do in Excel. `found`: WeChat has such a
    pupil; `looked_up`: the pupil was looked up (one given only by user_id is not)."""
    from wxpay_cli.flows.batch_input import RETYPE_AS_TEXT, _joined

    given = (given or "").strip()
    if not looked_up:
        reason = _("a pupil given by user_id is not looked up, so no name can confirm it")
    elif not found:
        reason = _("WeChat has no pupil it names (the roster's name: {given})").format(given=for_terminal(given))
    elif compare(given, wechat_name) is None:
        return None
    elif readable(wechat_name) is None:
        reason = _("WeChat gives no readable name for the pupil it names, to compare with the roster's {given}"
                   ).format(given=for_terminal(given))
    else:
        reason = _("the pupil it names in WeChat is {wechat}, not the roster's {given}").format(
            wechat=for_terminal(str(wechat_name).strip()), given=for_terminal(given))
    key = row.numeric[0]
    problem = _("{key} {value} is a number, not text, and {reason}: a number loses its leading 0s, so it may "
                "not be the id that was typed").format(key=key, value=for_terminal(row.values.get(key, "")), reason=reason)
    return OperationRefused(_joined(problem, _(RETYPE_AS_TEXT)), code=INVALID_ROW)  # the row is named by batch


class RosterNames:
    """Which column of a batch input holds the pupil's name, and each row's name.

    `column` is --name-column (or None: a column called 姓名 or name, when there is
    one). `check(source)` refuses (InputError, exit 2) a column that cannot be used,
    once the CSV header is known; `of(row)` is the row's name to compare (blank:
    "" ) or None when the roster gives none (nothing is compared)."""

    def __init__(self, column: str | None, keys: tuple[str, ...]):
        self.column = column.strip() if column is not None else None
        self.keys = keys
        self.found: str | None = None  # the CSV header's cell, as written

    def check(self, header: list[str] | None) -> None:
        if self.column is not None:
            wanted = _normal(self.column)
            if wanted == WECHAT_NAME:
                raise InputError(_("--name-column cannot be user_name: that is the column WeChat's name is "
                                   "written to"), hint=_("rename the roster's column, e.g. to 姓名"))
            if wanted in self.keys:
                raise InputError(_("--name-column {column} is an id column, not a name").format(
                    column=for_terminal(self.column)))
        if header is None:  # JSON lines: each line's keys, row by row
            return
        names = {_normal(cell): cell for cell in header}
        if self.column is not None:
            if _normal(self.column) not in names:
                raise InputError(_("--name-column {column} is not in the header ({found})").format(
                    column=for_terminal(self.column), found=",".join(for_terminal(cell) for cell in header)))
            self.found = names[_normal(self.column)]
            return
        present = [names[name] for name in NAME_COLUMNS if name in names]
        if len(present) > 1:
            raise InputError(_("the header has both {columns}: which one is the pupil's name is not clear").format(
                columns=_(", ").join(for_terminal(cell) for cell in present)),
                hint=_("choose one with --name-column"))
        self.found = present[0] if present else None

    @property
    def in_use(self) -> bool:
        """Names are compared (for CSV: the header has a name column; JSON lines: maybe)."""
        return self.found is not None or self.column is not None

    def of(self, row) -> str | None:
        """The row's name, "" when the name column is blank here, None when nothing is compared."""
        if self.found is not None:
            return _text(row.columns.get(self.found))
        by_name = {}
        for key, value in row.columns.items():
            by_name.setdefault(_normal(key), value)
        for wanted in [_normal(self.column)] if self.column is not None else NAME_COLUMNS:
            if wanted in by_name:
                return _text(by_name[wanted])
        return "" if self.column is not None else None


def _text(value: object) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _normal(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()
