"""The exception hierarchy and the exit-code table.

Errors are raised where they are detected and carry their own exit status; the
command group (`cli.WxpayGroup.invoke`) is the one place that turns them into a message on
stderr and an exit code. This module imports nothing heavy.
"""

from __future__ import annotations

from enum import IntEnum

from wxpay_cli.i18n import english as _english


class ExitStatus(IntEnum):
    """The documented exit codes (see README.md)."""

    OK = 0
    REFUSED = 1  # WeChat refused the request (4xx), or the operation was refused locally
    USAGE = 2  # click's usage errors
    CONFIG = 3  # configuration or credential problem
    NETWORK = 4  # network failure, timeout, or 5xx/429 still failing after retries
    VERIFICATION = 5  # the response failed verification; nothing from it is used
    INTERNAL = 70  # an unexpected error inside wxpay (a bug): rerun with --traceback
    OUTPUT_FAILED = 74  # stdout failed (closed, disk full) after a termination was sent: see the audit log
    HANGUP = 129  # SIGHUP: the terminal or the ssh connection went away (128 + SIGHUP)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    QUIT = 131  # SIGQUIT, Ctrl-\ (128 + SIGQUIT)
    BROKEN_PIPE = 141  # the reader of stdout went away (128 + SIGPIPE)
    TERMINATED = 143  # stopped by SIGTERM (128 + SIGTERM)


def exit_for_signal(signum: int | None) -> ExitStatus:
    """128 + the signal's number for the signals wxpay stops on; Ctrl-C's 130 otherwise."""
    try:
        return ExitStatus(128 + signum) if signum is not None else ExitStatus.INTERRUPTED
    except ValueError:
        return ExitStatus.INTERRUPTED


class WxpayError(Exception):
    """Base class: a one-line `message`, an optional `hint`, and an exit status."""

    exit_status = ExitStatus.REFUSED
    code = "ERROR"

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def wrapped(self, message: str, *, hint: str | None = None) -> WxpayError:
        """This error said with the context the caller knows: a new error of the same class,
        code, exit status and HTTP facts, whose text is `message` (and `hint`, else the
        original's). Raise it `from` the original: no error's text is changed after it is made."""
        new = self.__class__.__new__(self.__class__)
        new.__dict__.update(self.__dict__)
        Exception.__init__(new, message)
        new.message = message
        new.hint = self.hint if hint is None else hint
        return new

    # Fields shared with ApiError so one renderer handles every error.
    detail: object = None
    http_status: int | None = None
    request_id: str | None = None

    def to_dict(self) -> dict:
        """The `{"error": {...}}` payload printed with --json."""
        return {
            "code": self.code,
            # JSON is the same in every language: the English of translated sentences.
            "message": _english(self.message) if not self.hint else f"{_english(self.message)} ({_english(self.hint)})",
            "detail": self.detail,
            "http_status": self.http_status,
            "request_id": self.request_id,
        }


class ConfigError(WxpayError):
    """A missing or malformed config file, profile, key or certificate."""

    exit_status = ExitStatus.CONFIG
    code = "CONFIG_ERROR"


class OperationRefused(WxpayError):
    """The tool itself refused to go on (e.g. a termination without confirmation)."""

    exit_status = ExitStatus.REFUSED
    code = "REFUSED"


class Cancelled(OperationRefused):
    """The operator answered no: nothing was done, as they chose. The exit status is a
    refusal's (1), but it is said as what it is (`cancelled: nothing was terminated`,
    已取消：没有解约), never as an error; the message carries that word itself."""

    code = "CANCELLED"


class NetworkError(WxpayError):
    """The request did not get an answer: connection failure or timeout.

    `never_sent` is True only when the connection (TCP or TLS) could not be
    set up, so not a byte of the request can have reached the server.
    """

    exit_status = ExitStatus.NETWORK
    code = "NETWORK_ERROR"

    def __init__(self, message: str, *, never_sent: bool = False, **kwargs):
        super().__init__(message, **kwargs)
        self.never_sent = never_sent


class VerificationError(WxpayError):
    """A response failed signature verification, or is not what the API documents."""

    exit_status = ExitStatus.VERIFICATION
    code = "VERIFICATION_FAILED"

    def __init__(self, message: str, *, request_id: str | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.request_id = request_id


class ApiError(WxpayError):
    """WeChat answered with an error status (4xx): its code, message and detail."""

    exit_status = ExitStatus.REFUSED

    def __init__(
        self,
        http_status: int,
        code: str,
        message: str,
        *,
        detail: object = None,
        request_id: str | None = None,
    ):
        super().__init__(message, code=code or f"HTTP_{http_status}")
        self.http_status = http_status
        self.detail = detail
        self.request_id = request_id


class ServiceUnavailable(ApiError):
    """WeChat answered 5xx or 429 and kept doing so after the retries."""

    exit_status = ExitStatus.NETWORK


class AuditLogError(WxpayError):
    """The audit log cannot be written (or read); a termination refuses to go on without it."""

    exit_status = ExitStatus.CONFIG
    code = "AUDIT_LOG_ERROR"


class InputError(WxpayError):
    """Bad input that click could not check itself (a batch file that cannot be read as rows)."""

    exit_status = ExitStatus.USAGE
    code = "INPUT_ERROR"


class Interrupted(WxpayError):
    """Ctrl-C or a signal (SignalReceived) arrived while something that matters was in flight."""

    exit_status = ExitStatus.INTERRUPTED
    code = "INTERRUPTED"

    def __init__(self, message: str, *, signum: int | None = None, **kwargs):
        super().__init__(message, **kwargs)
        if signum is not None:
            self.exit_status = exit_for_signal(signum)


class OutputFailed(WxpayError):
    """stdout failed (a closed pipe, a full disk) after something was done: the audit log has it."""

    exit_status = ExitStatus.OUTPUT_FAILED
    code = "OUTPUT_FAILED"


class InternalError(WxpayError):
    """An unexpected exception (a bug) turned into one line; `--traceback` shows the original."""

    exit_status = ExitStatus.INTERNAL
    code = "INTERNAL_ERROR"


class SignalReceived(KeyboardInterrupt):
    """Raised by wxpay's handler for SIGTERM, SIGHUP and SIGQUIT: stops the work like Ctrl-C
    does, then wxpay exits 128 + `signum`."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
