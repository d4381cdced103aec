"""httpx, loaded without its own command-line client: the one place wxpay reaches into httpx.

`httpx` here is the ordinary httpx module; `client.py` and `bounds.py` take it
from here, every other module of wxpay from `wxpay_cli.wire.client`.

httpx's `__init__` runs `from ._main import main` (its own CLI, which loads
rich and pygments) whenever click and rich are installed, as they are with
wxpay: about 60-70 ms of every call's start-up, measured (benchmarks/run.py,
"one call"). No public switch turns that off, so while httpx loads,
`httpx._main` is a small module whose `main` imports the real CLI when called;
it is removed from `sys.modules` straight after, so `httpx.main()` and
`import httpx._main` behave as without wxpay.

That is another library's insides, so the rule for them holds here: this is
the only place; httpx is bounded above in pyproject.toml (checked on 0.28.1);
importing this module fails loudly when a release no longer takes the
placeholder (exit 3 "this release of httpx is not
supported: ..."); tests/test_imports.py proves both the saving and the check.
Nothing is done when httpx was imported before wxpay (as in a test run).
"""

from __future__ import annotations

import sys
import types

from wxpay_cli.errors import ConfigError
from wxpay_cli.i18n import _

CHECKED_ON = "0.28.1"


def _import_httpx():
    if "httpx" in sys.modules:
        return sys.modules["httpx"]
    placeholder = types.ModuleType("httpx._main")
    placeholder.main = _httpx_cli
    sys.modules["httpx._main"] = placeholder
    try:
        import httpx
    finally:
        if sys.modules.get("httpx._main") is placeholder:
            del sys.modules["httpx._main"]
    taken = getattr(httpx, "main", None) is _httpx_cli
    if getattr(httpx, "_main", None) is placeholder:
        del httpx._main
    if not taken:
        _unsupported[:] = [getattr(httpx, "__version__", "?")]
    return httpx


def _httpx_cli(*args, **kwargs):
    """httpx's own `main` (its command-line client), imported when called."""
    from httpx._main import main

    return main(*args, **kwargs)


_unsupported: list[str] = []  # the version of an httpx that did not take the placeholder


def check_httpx() -> None:
    """Exit 3 with a clear line when the httpx installed no longer loads its CLI the
    way this module relies on (a release past the one checked)."""
    if _unsupported:
        raise ConfigError(
            _("this release of httpx is not supported: {version} no longer loads its command-line "
              "client the way wxpay expects (checked on {checked})").format(version=_unsupported[0],
                                                                            checked=CHECKED_ON),
            hint=_("install a supported release: pip install 'httpx>=0.28,<0.29'"))


httpx = _import_httpx()
check_httpx()  # before any module of wxpay builds on it
