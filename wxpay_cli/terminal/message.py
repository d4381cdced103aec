"""The message an operator pastes into WeChat with a pupil's repayment link.

A template with named placeholders (`{name}`, `{class_name}`, `{school}`, `{url}`,
...): the default one is made of translated sentences, so the message comes in
the operator's language: it greets the family, names the school when it is
known, says what the link is for (repaying the advance, 垫资还款), which host it
opens and until when, as a person writes it (`12月5日 01:50`). A profile may set
its own `message_template`, checked when the profile loads (`template_problem`).
Values from outside (the pupil's name and class, the school's name) are
sanitised before they are put in.
"""

from __future__ import annotations

import string
from datetime import datetime

from wxpay_cli.i18n import Text, _, english

PLACEHOLDERS = ("name", "class_name", "school", "out_user_id", "organization_id", "url", "host", "expires",
                "expires_in")
MAX_TEMPLATE_LENGTH = 2000


def template_problem(template: object) -> str | None:
    """What is wrong with a message template, or None: only the named PLACEHOLDERS, `{url}` required."""
    if not isinstance(template, str) or not template.strip():
        return _("must be a non-empty string")
    if len(template) > MAX_TEMPLATE_LENGTH:
        return _("is longer than {count} characters").format(count=MAX_TEMPLATE_LENGTH)
    try:
        fields = [(name, spec, conversion) for _text, name, spec, conversion in string.Formatter().parse(template)
                  if name is not None]
    except ValueError as exc:
        return _("is not a valid template ({reason}); write a literal brace as {{{{ or }}}}").format(reason=exc)
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS:
            return _("has an unknown placeholder {{{name}}}; known: {known}").format(
                name=name, known=", ".join("{" + known + "}" for known in PLACEHOLDERS))
        if spec or conversion:
            return _("placeholder {{{name}}} must be plain, without ! or :").format(name=name)
    if "url" not in {name for name, _spec, _conversion in fields}:
        return _("must hold {url}: the message is for forwarding the link")
    return None


def default_template(with_class: bool, with_school: bool = False) -> str:
    """The message in the operator's language, one sentence a line; what is not known
    (the class, the school's name) is left out, never shown empty."""
    greeting = _("Hello, this is {school}.") if with_school else _("Hello,")
    if with_class:
        purpose = _("Here is the link to repay the advance (垫资) made for {name} ({class_name}):")
    else:
        purpose = _("Here is the link to repay the advance (垫资) made for {name}:")
    lines = (greeting, purpose, "{url}", _("(opens: {host})"),
             _("Please open it in WeChat and repay before {expires}. "
               "If the link has expired, reply to this message and we will send a new one."))
    return Text("\n".join(lines), "\n".join(map(english, lines)))  # JSON keeps the English


def wants_school(template: str | None) -> bool:
    """Whether a message made with `template` (None: the default) names the school."""
    return template is None or "school" in {name for _text, name, _spec, _conversion
                                            in string.Formatter().parse(template) if name}


def pupil_facts(user: dict | None) -> tuple[str | None, str | None]:
    """(name, class) from a user query answer, each None when unknown (a still-encrypted name is unknown)."""
    from wxpay_cli.wire.api import looks_encrypted

    if not user:
        return None, None
    name = user.get("user_name")
    if not isinstance(name, str) or not name.strip() or looks_encrypted(name):
        name = None
    info = user.get("student_info") if isinstance(user.get("student_info"), dict) else {}
    staff = user.get("staff_info") if isinstance(user.get("staff_info"), dict) else {}
    group = info.get("class_name") or staff.get("occupation")
    return name, group if isinstance(group, str) and group.strip() else None


def compose(link: dict, *, out_user_id: str, organization_id: str, user: dict | None, school: str | None = None,
            template: str | None = None, now: datetime | None = None) -> str:
    """The message for one pupil's verified link (`school`: the school's name, None when not
    known). It always says which host the link opens: a template without `{host}` gets a
    last line saying it."""
    from wxpay_cli.sanitise import for_terminal
    from wxpay_cli.terminal import times
    from wxpay_cli.wire.shapes import link_host

    name, group = pupil_facts(user)
    expire = datetime.fromisoformat(link["expire_at"])
    values = {
        "name": for_terminal(name or out_user_id),
        "class_name": for_terminal(group or ""),
        "school": for_terminal(school or ""),
        "out_user_id": for_terminal(out_user_id),
        "organization_id": for_terminal(organization_id),
        "url": for_terminal(link["repayment_url"]),
        "host": for_terminal(link_host(link["repayment_url"]) or "?"),
        "expires": times.written(expire, now),
        "expires_in": times.relative(expire, now),
    }
    template = template or default_template(with_class=bool(group), with_school=bool(school))
    text = template.format(**values)
    if "{host}" not in template.replace("{{", ""):
        text += "\n" + _("opens: {host}").format(host=values["host"])
    return text
