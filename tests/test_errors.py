"""Errors carry their text from where they are made; context wraps them."""

from wxpay_cli.errors import ApiError, ExitStatus, Interrupted


def test_a_wrapped_error_keeps_what_it_is_and_says_the_new_words():
    original = ApiError(503, "SYSTEM_ERROR", "system busy", request_id="r-1")
    wrapped = original.wrapped("stopped at row 2: system busy")
    assert type(wrapped) is ApiError and wrapped.code == "SYSTEM_ERROR" and wrapped.http_status == 503
    assert wrapped.request_id == "r-1" and wrapped.exit_status == original.exit_status
    assert str(wrapped) == wrapped.message == "stopped at row 2: system busy"
    assert original.message == "system busy" and str(original) == "system busy"  # untouched


def test_a_wrapped_error_keeps_its_hint_unless_given_one_and_its_exit_status():
    interrupted = Interrupted("interrupted", hint="check first", signum=15)
    assert interrupted.wrapped("more").hint == "check first"
    assert interrupted.wrapped("more", hint="other").hint == "other"
    assert interrupted.wrapped("more").exit_status == ExitStatus.TERMINATED
