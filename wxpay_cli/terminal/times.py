"""How times are shown to a person: local time with its offset, one format everywhere.

`local` is the one long form ("2026-11-26 14:05:03 +08:00"); `short` is the
same clock for tables that must stay narrow ("11-26 14:05", or the date alone
for another year), with the offset said once in the column heading
(`offset_label`); `written` is a time as a person writes it in a message to a
family ("12月5日 01:50", "5 Dec 01:50"). JSON output keeps the RFC 3339 strings
as they came.
"""

from __future__ import annotations

from datetime import UTC, datetime

from wxpay_cli.i18n import N_

# A time this close to the calendar's ends cannot be moved to every zone (year 0 or 10000):
# a hand-edited log or a hostile answer may hold one, and it is then not taken for a time.
_EARLIEST = datetime(1, 1, 3, tzinfo=UTC)
_LATEST = datetime(9999, 12, 29, tzinfo=UTC)


def parse(value: object) -> datetime | None:
    """An ISO 8601 / RFC 3339 time with its offset, or None (a naive time is taken as local;
    a time within two days of the calendar's ends is None: no zone could show it)."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    try:
        moment = moment if moment.tzinfo else moment.astimezone()
    except (OverflowError, ValueError):
        return None
    return moment if _EARLIEST <= moment <= _LATEST else None


def offset(moment: datetime) -> str:
    """'+08:00'."""
    text = moment.strftime("%z")
    return f"{text[:3]}:{text[3:]}" if text else ""


def local(value: object) -> str:
    """'2026-11-26 14:05:03 +08:00' in this machine's time zone; the value as it came if not a time."""
    moment = parse(value)
    if moment is None:
        return "" if value is None else str(value)
    moment = moment.astimezone()
    return f"{moment:%Y-%m-%d %H:%M:%S} {offset(moment)}"


def short(value: object, now: datetime | None = None) -> str:
    """'11-26 14:05' (this year) or '2025-11-26' (another year), local time; see `offset_label`."""
    moment = parse(value)
    if moment is None:
        return "" if value is None else str(value)
    moment = moment.astimezone()
    now = (now or datetime.now()).astimezone()
    return f"{moment:%m-%d %H:%M}" if moment.year == now.year else f"{moment:%Y-%m-%d}"


def offset_label(values) -> str:
    """The local offset of these times when they share one ('+08:00'), else ''."""
    offsets = {offset(moment.astimezone()) for moment in map(parse, values) if moment is not None}
    return offsets.pop() if len(offsets) == 1 else ""


def relative(moment: datetime, now: datetime | None = None) -> str:
    """'in 29 min', 'in 2 h 5 min', 'expired 3 min ago'."""
    from wxpay_cli.i18n import _

    now = now or datetime.now(moment.tzinfo)
    seconds = int((moment - now).total_seconds())
    minutes = abs(seconds) // 60
    if minutes >= 60:
        text = _("{hours} h {minutes} min").format(hours=minutes // 60, minutes=minutes % 60)
    else:
        text = _("{minutes} min").format(minutes=minutes)
    if seconds < 0:
        return _("expired {text} ago").format(text=text)
    return _("in {text}").format(text=text) if minutes else _("in under a minute")


# Month names as a message to a family says them ("Dec"; in Chinese "12月").
MONTHS = (N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"),
          N_("Jul"), N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"))


def written(value: object, now: datetime | None = None) -> str:
    """'12月5日 01:50' / '5 Dec 01:50' (the year too when it is not this one): no seconds and no
    offset, in the time's own zone (WeChat's times are China's, where the family reads them)."""
    from wxpay_cli.i18n import _

    moment = parse(value)
    if moment is None:
        return "" if value is None else str(value)
    now = now.astimezone(moment.tzinfo) if now else datetime.now(moment.tzinfo)
    fields = {"day": moment.day, "month": _(MONTHS[moment.month - 1]), "year": moment.year,
              "time": f"{moment:%H:%M}"}
    if moment.year == now.year:
        return _("{day} {month} {time}").format(**fields)
    return _("{day} {month} {year} {time}").format(**fields)
