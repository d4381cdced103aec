"""wxpay reads and writes no private name of another library.

A private name (`pool._network_backend`, `response._content`, click's
`_help_option`) can change in any release of its library; wxpay would then fail
as exit 70 or, worse, silently drop a bound. The one exception is
`httpx_loading.py` (httpx's `_main`, checked loudly at start and bounded in
pyproject.toml). This test fails when another one appears: outside that module,
an underscore attribute is read or written (directly or by getattr and its
kin with a literal name) only on `self`/`cls` (wxpay's own objects), and no
underscore module or name of another package, the standard library's
included, is imported.
"""

from __future__ import annotations

import ast

from common import PACKAGE

THE_ONE_PLACE = PACKAGE / "wire" / "httpx_loading.py"
DOCUMENTED = {"_replace", "_asdict", "_fields", "_make"}  # a namedtuple's public methods


def _private(name: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in name.split("."))


def reaches_into(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and _private(node.attr) and node.attr not in DOCUMENTED:
            if ast.unparse(node.value) not in ("self", "cls"):
                found.append(f"{ast.unparse(node.value)}.{node.attr}")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value) and ast.unparse(node.args[0]) not in ("self", "cls")):
            found.append(f"{ast.unparse(node.args[0])}.{node.args[1].value}")
        elif isinstance(node, ast.ImportFrom) and not (node.module or "").startswith("wxpay_cli") and node.level == 0:
            found += [f"from {node.module} import {alias.name}" for alias in node.names
                      if _private(node.module) or _private(alias.name)]
        elif isinstance(node, ast.Import):
            found += [f"import {alias.name}" for alias in node.names
                      if not alias.name.startswith("wxpay_cli") and _private(alias.name)]
    return found


def test_no_module_but_httpx_loading_touches_a_private_name_of_another_library():
    offences = {str(path.relative_to(PACKAGE)): found for path in sorted(PACKAGE.rglob("*.py"))
                if path != THE_ONE_PLACE and (found := reaches_into(path.read_text(encoding="utf-8")))}
    assert offences == {}


def test_the_check_finds_what_wxpay_used_to_reach_into():
    old = """
from click.formatting import _flag_needs_value
from click._compat import term_len
import httpx._main
pool = client._transport._pool
pool._network_backend = backend
response._content = body
command._help_option = None
self._own = parts._replace(netloc="x")
getattr(info, "_is_text_encoding", True)
hasattr(self, "_mine")
from wxpay_cli.commands._options import org_option
"""
    assert sorted(reaches_into(old)) == sorted([
        "from click.formatting import _flag_needs_value", "from click._compat import term_len",
        "import httpx._main", "client._transport", "client._transport._pool", "pool._network_backend",
        "response._content", "command._help_option", "info._is_text_encoding"])
