"""The one-way rule of CONTRIBUTING.md: a module imports only from its own layer or a lower one,
and a command module never imports another command module.

    cli, __main__          the console script
    commands/              one module per group of commands (underscore modules: their shared parts)
    app, collector         one invocation: global options, the profile, the client
    flows/  sandbox/       the jobs; the loopback WeChat Pay (neither imports the other)
    local/                 this machine's files: config, credentials, keys, audit log
    terminal/              what a person sees and types
    wire/                  requests, answers, signatures, bounds
    i18n, errors, sanitise what every layer uses
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from common import PACKAGE

LAYERS = [
    {"i18n", "errors", "sanitise", "__init__"},
    {"wire"},
    {"terminal"},
    {"local"},
    {"flows", "sandbox"},
    {"app", "collector"},
    {"commands"},
    {"cli", "__main__"},
]
APART = {"flows", "sandbox"}  # one layer, but neither may import the other


def part_of(dotted: str) -> str:
    """The layer's member a module belongs to: its folder, or its own name at the top."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def rank(member: str) -> int:
    return next(index for index, members in enumerate(LAYERS) if member in members)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every wxpay_cli module the file imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "wxpay_cli":
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (PACKAGE.parent / (candidate.replace(".", "/") + ".py")).exists() or \
                    (PACKAGE.parent / candidate.replace(".", "/")).is_dir()
                found.append((node.lineno, candidate if is_module else node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names if alias.name.split(".")[0] == "wxpay_cli"]
    return found


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(relative.parts[:-1] if relative.name == "__init__" else relative.parts)


def offences() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(PACKAGE)}:{node.lineno} a relative import (write wxpay_cli.…)"
                  for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
        for line, imported in imports_of(path):
            mine, theirs = part_of(importer), part_of(imported)
            where = f"{path.relative_to(PACKAGE)}:{line} imports {imported}"
            if mine != theirs and (rank(theirs) > rank(mine) or {mine, theirs} == APART):
                found.append(where + " (a layer above, or beside it)")
            elif mine == theirs == "commands" and _is_command(imported) and imported != importer \
                    and importer != "wxpay_cli.commands":  # a command's shared parts import no command either
                found.append(where + " (a command imports a command)")
    return found


def _is_command(dotted: str) -> bool:
    leaf = dotted.split(".")[-1]
    return dotted.startswith("wxpay_cli.commands.") and not leaf.startswith("_")


def test_every_module_belongs_to_a_layer():
    members = {member for layer in LAYERS for member in layer}
    strays = {part_of(module_name(path)) for path in PACKAGE.rglob("*.py")} - members
    assert strays == set(), "add each to a layer in this test and in CONTRIBUTING.md"


def test_imports_run_one_way_and_no_command_imports_a_command():
    assert offences() == []


@pytest.mark.parametrize("importer, imported", [
    ("wire/client.py", "wxpay_cli.local.config"),        # the wire reading this machine's files
    ("local/audit.py", "wxpay_cli.flows.links"),         # a lower layer importing a job
    ("flows/links.py", "wxpay_cli.sandbox.server"),      # siblings: the jobs and the loopback WeChat Pay
    ("terminal/output.py", "wxpay_cli.app"),
    ("commands/user.py", "wxpay_cli.commands.contract"),  # a command importing a command
])
def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch, importer, imported):
    """A copy of the package with one bad import added fails the rule."""
    import shutil

    copy = tmp_path / "wxpay_cli"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    target = copy / importer
    module, _, name = imported.rpartition(".")
    target.write_text(target.read_text(encoding="utf-8") + f"\n\ndef _added():\n    from {module} import {name}\n",
                      encoding="utf-8")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", copy)
    assert any(f"{importer}:" in line for line in offences())


SPEAKERS = {"terminal/output.py", "terminal/prompt.py"}  # the only modules that write to the terminal


def writes_to_the_terminal(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        called = ast.unparse(node.func)
        if called in ("print", "click.echo", "click.secho", "echo", "secho", "click.confirm", "click.prompt",
                      "input") or called.startswith(
                ("sys.stdout.", "sys.stderr.")) and called.endswith((".write", ".writelines")):
            found.append(f"line {node.lineno}: {called}")
    return found


def test_only_output_and_prompt_write_to_the_terminal():
    offences = {str(path.relative_to(PACKAGE)): found for path in sorted(PACKAGE.rglob("*.py"))
                if str(path.relative_to(PACKAGE)) not in SPEAKERS
                and (found := writes_to_the_terminal(path.read_text(encoding="utf-8")))}
    assert offences == {}


def test_the_check_finds_a_print_outside_output():
    assert writes_to_the_terminal("print('x')\nsys.stdout.write(text)\nclick.echo('y', err=True)\n"
                                  "sys.stdout.fileno()\nhandle.write(data)\n") == [
        "line 1: print", "line 2: sys.stdout.write", "line 3: click.echo"]


def test_no_error_has_its_text_changed_after_it_is_made():
    """An error's message and hint are set where it is raised (errors.py); context is added by
    `exc.wrapped(...)`, a new error raised from the old, so str(exc) and exc.message never differ."""
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else []
            offences += [f"{path.relative_to(PACKAGE)}:{node.lineno} {ast.unparse(target)}" for target in targets
                         if isinstance(target, ast.Attribute) and target.attr in ("message", "hint")
                         and ast.unparse(target.value) not in ("self",)]
    assert offences == []


@pytest.mark.parametrize("importer, line", [
    ("flows/links.py", "from ..commands import contract"),           # relative: it would hide the layer
    ("commands/_views.py", "from wxpay_cli.commands import contract"),  # a shared part importing a command
])
def test_the_rule_sees_relative_imports_and_shared_parts(tmp_path, monkeypatch, importer, line):
    import shutil

    copy = tmp_path / "wxpay_cli"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "locale"))
    target = copy / importer
    target.write_text(target.read_text(encoding="utf-8") + f"\n\ndef _added():\n    {line}\n", encoding="utf-8")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", copy)
    assert any(f"{importer}:" in found for found in offences())
