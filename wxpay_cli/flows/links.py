"""Fetching repayment links, each fetch (or its failure) recorded in the audit log.

A fetch is a flow (see steps.py), so single mode and batch mode share it. A
link is still handed back when the audit log cannot be written: `on_audit_failure`
is told once, and the caller warns. `find_pupil` decides which failures of the
name-and-class lookup still let a link be shown; `find_school` the school's name for the message;
`LinkFetcher.check_name` is the lookup that must succeed, when the operator gave the pupil's
name (flows/names.py).
"""

from __future__ import annotations

from collections.abc import Callable

from wxpay_cli.errors import (
    ApiError,
    AuditLogError,
    Cancelled,
    OperationRefused,
    VerificationError,
    WxpayError,
)
from wxpay_cli.flows.steps import Steps
from wxpay_cli.i18n import _
from wxpay_cli.local.audit import AuditLog
from wxpay_cli.local.config import Profile
from wxpay_cli.wire import api

LINK_HOST = "LINK_HOST"  # a verified link to a host outside the profile's link_hosts, not let through


def host_expected(host: str, domains: tuple[str, ...], allowed: tuple[str, ...] = ()) -> bool:
    """A host within one of `domains` (itself or a subdomain), or exactly one of `allowed`."""
    host = host.lower().rstrip(".")
    return host in allowed or any(host == domain or host.endswith("." + domain) for domain in domains)


class LinkFetcher:
    """Fetches links for one profile. A link whose host is outside the profile's `link_hosts`
    (WeChat Pay's domains by default) and not named in `allowed` is shown only when
    `confirm_host(host)` says yes; without a person to ask (None: scripts, batches) it is that
    fetch's LINK_HOST refusal (exit 1; in a batch, that row's), recorded as failed."""

    def __init__(self, profile: Profile, audit: AuditLog, on_audit_failure: Callable[[AuditLogError], None],
                 *, allowed: tuple[str, ...] = (), confirm_host: Callable[[str], bool] | None = None,
                 warn: Callable[[str], None] | None = None):
        self.profile = profile
        self.warn = warn or (lambda _message: None)
        self.audit = audit
        self._on_audit_failure = on_audit_failure
        self._audit_failed = False
        self.allowed = tuple(host.lower().rstrip(".") for host in allowed)
        self.confirm_host = confirm_host

    def fetch(self, *, out_user_id: str, organization_id: str, pupil: dict | None = None) -> Steps[api.Answer]:
        """The verified link for one pupil (`pupil`: WeChat's record of them, when the caller
        looked them up: their name and class go into the audit line, for `wxpay cases`)."""
        from wxpay_cli.terminal.message import pupil_facts

        name, group = pupil_facts(pupil)
        known = {"user_name": name, "class_name": group}
        try:
            answer = yield api.repayment_url(out_user_id=out_user_id, organization_id=organization_id)
            self._check_host(answer)
        except WxpayError as exc:
            self._record(out_user_id, organization_id, "failed", exc.http_status, exc.request_id, exc.code, **known)
            raise
        self._record(out_user_id, organization_id, "fetched", answer.http_status, answer.request_id, None,
                     expire_at=answer.data.get("expire_at"), **known)
        return answer

    def check_name(self, name: str, *, out_user_id: str, organization_id: str,
                   ignore: bool = False) -> Steps[dict]:
        """Before the link is fetched: WeChat's record of the pupil (read-only), its name compared
        with `name`. A name that differs or cannot be compared is refused (NAME_MISMATCH,
        NAME_UNAVAILABLE: recorded, exit 1, no link fetched), or only said with `ignore`.
        Returns WeChat's record (for the name and class shown with the link)."""
        from wxpay_cli.flows import names

        answer = yield api.get_user(organization_id=organization_id, out_user_id=out_user_id)
        difference = names.compare(name, answer.data.get("user_name"), who=out_user_id)
        if difference is not None:
            if ignore:
                self.warn(_("{reason} (--ignore-name-mismatch: going on)").format(reason=difference.message))
            else:
                self._record(out_user_id, organization_id, "refused", None, answer.request_id, difference.code)
                refusal = names.refusal(difference, nothing=_("no link was fetched"))
                refusal.request_id = answer.request_id
                raise refusal
        return answer.data

    def confirm_number(self, row, name: str | None) -> Steps[dict]:
        """Before the link is fetched for a batch row whose id came from a number cell (Row.by_name):
        WeChat's record of the pupil it names (read-only), whose name must be the row's `name`;
        otherwise the row's INVALID_ROW (recorded when WeChat answered; never let through by
        --ignore-name-mismatch). Returns WeChat's record."""
        from wxpay_cli.flows import names

        organization_id, out_user_id = row.values["organization_id"], row.values["out_user_id"]
        try:
            answer = yield api.get_user(organization_id=organization_id, out_user_id=out_user_id)
        except ApiError as exc:
            if exc.http_status != 404:
                raise
            refusal = names.confirm_number(row, name, found=False)
            refusal.request_id = exc.request_id
            raise refusal from None
        refusal = names.confirm_number(row, name, answer.data.get("user_name"))
        if refusal is not None:
            self._record(out_user_id, organization_id, "refused", None, answer.request_id, refusal.code)
            refusal.request_id = answer.request_id
            raise refusal
        return answer.data

    def refuse_duplicate(self, earlier: str, *, out_user_id: str, organization_id: str) -> OperationRefused:
        """A batch row naming a pupil an earlier row (`earlier`: as the operator finds it, Row.where)
        names: recorded, and the error to raise (a second fetch would make a second, different link
        for the same pupil)."""
        from wxpay_cli.flows.batch import DUPLICATE_ROW

        self._record(out_user_id, organization_id, "refused", None, None, DUPLICATE_ROW)
        return OperationRefused(_("{earlier} already names this pupil: one link per pupil, so no second link "
                                  "was fetched").format(earlier=earlier), code=DUPLICATE_ROW)

    def _check_host(self, answer: api.Answer) -> None:
        from wxpay_cli.sanitise import for_terminal
        from wxpay_cli.wire.shapes import link_host

        host = link_host(answer.data["repayment_url"])  # a named host: the shape check refused any other
        if host_expected(host, self.profile.link_hosts, self.allowed):
            return
        if self.confirm_host is not None:
            if self.confirm_host(host):
                return
            refusal = Cancelled(_("cancelled: the link to {host} was not shown").format(host=for_terminal(host)),
                                code=LINK_HOST)
            refusal.request_id = answer.request_id
            raise refusal
        refusal = OperationRefused(
            _("the link opens {host}, which is not one of WeChat Pay's domains (link_hosts: {domains}): "
              "it was not shown; if this host is expected, pass --allow-link-host {host}").format(
                host=for_terminal(host), domains=", ".join(self.profile.link_hosts) or "-"), code=LINK_HOST)
        refusal.request_id = answer.request_id
        raise refusal

    async def commit(self) -> None:
        """Batch mode: wait until this row's audit line is on disk (before its output line)."""
        try:
            await self.audit.commit()
        except AuditLogError as exc:
            self._failed(exc)

    def _record(self, out_user_id, organization_id, outcome, http_status, request_id, error, **known) -> None:
        try:
            self.audit.append(
                operator=self.profile.operator, profile=self.profile.name, mchid=self.profile.mchid, operation="repayment_url",
                organization_id=organization_id, out_user_id=out_user_id, outcome=outcome,
                http_status=http_status, request_id=request_id, error=error, **known,
            )
        except AuditLogError as exc:
            self._failed(exc)

    def _failed(self, exc: AuditLogError) -> None:
        if not self._audit_failed:
            self._audit_failed = True
            self._on_audit_failure(exc)


def fetch_link(client, fetcher: LinkFetcher, *, out_user_id: str, organization_id: str,
               pupil: dict | None = None) -> dict:
    """One pupil's verified link (recorded in the audit log, with `pupil`'s name and class when given)."""
    from wxpay_cli.flows import steps

    return steps.run(client, fetcher.fetch(out_user_id=out_user_id, organization_id=organization_id,
                                           pupil=pupil)).data


def find_pupil(client, *, out_user_id: str, organization_id: str) -> tuple[dict | None, str | None]:
    """WeChat's record of the pupil (for the name and class shown with a link), or
    (None, the error code) when WeChat would not say: the link is then named by id.

    An answer that fails verification, or is about another pupil, is raised: no
    link is fetched or shown next to a name that may not be this pupil's.
    """
    try:
        return client.call(api.get_user(organization_id=organization_id, out_user_id=out_user_id)).data, None
    except VerificationError:
        raise
    except WxpayError as exc:
        return None, exc.code


def find_school(client, *, organization_id: str) -> str | None:
    """The school's name as WeChat has it (for the message to a family), or None when WeChat
    will not say: the message then leaves it out. An answer that fails verification, or
    names another organization, is raised: no message names a school it cannot vouch for."""
    try:
        name = client.call(api.get_organization(organization_id=organization_id)).data["organization_name"]
    except VerificationError:
        raise
    except WxpayError:
        return None
    return name.strip() or None
