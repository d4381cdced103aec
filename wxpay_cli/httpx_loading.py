"""httpx, loaded for wxpay without what a wxpay call never uses.

`httpx` here is the ordinary httpx module: `client.py` and `bounds.py` take it
from here, every other module of wxpay from `wxpay_cli.client`. Loading it this
way leaves httpx, httpcore and the modules they defer working exactly as usual
for any other code in the same process (tests/test_imports.py checks that they do).
"""

from __future__ import annotations

import sys
import types


def _import_httpx():
    """Import httpx and httpcore without loading what a wxpay call never uses,
    leaving both working exactly as usual for any other code in the process.

    - httpx's `__init__` imports `httpx._main` (its own CLI, which loads rich
      and pygments: about 40 ms) whenever click and rich are installed. While
      httpx loads, `httpx._main` is a small module whose `main` imports the
      real CLI when called; it is removed from `sys.modules` straight after,
      so `httpx.main()` and `import httpx._main` behave as without wxpay.
      This relies on httpx's `try: from ._main import main` (httpx < 0.29,
      pinned in pyproject.toml; tests/test_imports.py checks it still holds).
    - httpcore imports trio, when it is installed, for trio event loops: about
      50 ms. When trio is installed and not yet imported, it is registered
      as a deferred module (`_register_lazily`, much like the standard
      library's `importlib.util.LazyLoader`): the module object exists
      (httpcore and any later `import trio` get that one), and trio's code
      runs the first time anything uses it, e.g. under `trio.run`.
    - httpcore imports anyio (about 20 ms) for its async locks and backend; a
      synchronous call never touches it. It is deferred the same way: batch
      mode (asyncio) and any other async code run it on first use.
    - httpcore imports certifi (with `importlib.resources`, about 8 ms) for
      its CA bundle, used only to build a TLS context; httpx imports idna
      (about 5 ms), used only for host names that are not ASCII. Both are
      deferred the same way: an https:// call loads certifi when it builds
      its verifying TLS context, exactly as before.
    A deferred module that some other code imports first is simply loaded
    then: the cost comes back, nothing breaks. Nothing is done when httpx
    was imported first.
    """
    if "httpx" in sys.modules:
        return sys.modules["httpx"]
    for name in ("trio", "anyio", "certifi", "idna"):
        if name not in sys.modules:
            _register_lazily(name)
    placeholder = types.ModuleType("httpx._main")
    placeholder.main = _httpx_cli
    sys.modules["httpx._main"] = placeholder
    try:
        import httpcore  # noqa: F401  (httpx would import it later, on first use)
        import httpx
    finally:
        if sys.modules.get("httpx._main") is placeholder:
            del sys.modules["httpx._main"]
    if getattr(httpx, "_main", None) is placeholder:
        del httpx._main
    return httpx


def _httpx_cli(*args, **kwargs):
    """httpx's own `main` (its command-line client), imported when called."""
    from httpx._main import main

    return main(*args, **kwargs)


def _register_lazily(name: str) -> None:
    """Put `name` in sys.modules as a module whose code runs on first use; no-op if not installed.

    Like `importlib.util.LazyLoader`, except that the import system's own look
    at `__spec__` (on every later `import name`) does not count as a use.
    """
    import importlib.util
    import threading

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    module.__dict__.pop("__path__", None)  # a submodule import asks for it: that is a use
    module.__class__ = _Deferred
    _loading[name] = [threading.RLock(), False]
    sys.modules[name] = module


_loading: dict[str, list] = {}  # a deferred module's name: [its lock, whether its code is running]


class _Deferred(types.ModuleType):
    """A module not run yet: its first missing attribute runs it, in place.

    As with a plain `import`, another thread that uses the module meanwhile
    waits until its code has run, instead of finding it half run. Until then a
    missing attribute in the loading thread itself (a circular import) is an
    AttributeError, as for any module still being imported.
    """

    def __getattr__(self, attribute: str):
        state = _loading[self.__name__]
        with state[0]:
            if type(self) is _Deferred and not state[1]:
                state[1] = True
                try:
                    if self.__spec__.submodule_search_locations is not None:
                        self.__path__ = self.__spec__.submodule_search_locations
                    self.__spec__.loader.exec_module(self)
                    if type(self) is _Deferred:  # its code may have set a class of its own (trio does)
                        self.__class__ = types.ModuleType
                finally:
                    state[1] = False
        if type(self) is _Deferred:  # its code is still running, in this thread
            return types.ModuleType.__getattribute__(self, attribute)
        return getattr(self, attribute)


httpx = _import_httpx()
