"""Keep the Chinese catalog in step with the code (a developer tool; needs Babel).

    python tools/catalog.py update    # add new messages to the .po (empty), drop stale ones
    python tools/catalog.py compile   # write the .mo next to the .po (committed)
    python tools/catalog.py missing   # list messages without a translation

Messages come from three places: calls of `_`, `N_` and `ngettext` in the
code; the help texts click stores for every command and option (read from the
live command tree, exactly as click keeps them); and click's own sentences
("Usage:", "Missing option …"), extracted from the installed click.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "wxpay_cli"
PO = PACKAGE / "locale" / "zh_CN" / "LC_MESSAGES" / "wxpay.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}


def code_messages(directory: Path) -> dict[object, list[str]]:
    """msgid (a str, or a (singular, plural) pair) -> where it occurs."""
    from babel.messages.extract import extract_from_dir

    found: dict[object, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(directory), method_map=[("**.py", "python")], keywords=KEYWORDS,
    ):
        found.setdefault(message, []).append(f"{directory.name}/{filename}:{lineno}")
    return found


def help_messages() -> dict[str, list[str]]:
    """Every help text, short help and epilog of the command tree, as click stores it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import click

    from wxpay_cli import i18n
    from wxpay_cli.cli import COMMANDS, cli

    found: dict[str, list[str]] = {}

    def walk(command: click.Command, path: str) -> None:
        for attribute in ("help", "short_help", "epilog"):
            text = i18n._help_source(command, attribute)
            if text:
                found.setdefault(text, []).append(f"{path} ({attribute})")
        for param in command.params:
            text = i18n._help_source(param, "help")
            if text:
                found.setdefault(text, []).append(f"{path} {param.opts[0] if param.opts else param.name}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(cli, "wxpay")
    for name in COMMANDS:
        walk(cli.get_command(click.Context(cli), name), f"wxpay {name}")
    return found


def click_messages() -> dict[object, list[str]]:
    import click

    return code_messages(Path(os.path.dirname(click.__file__)))


def all_messages() -> dict[object, list[str]]:
    messages: dict[object, list[str]] = {}
    for source in (code_messages(PACKAGE), help_messages(), click_messages()):
        for message, where in source.items():
            messages.setdefault(message, []).extend(where)
    return messages


def read_catalog(path: Path = PO):
    from babel.messages.pofile import read_po

    with open(path, "rb") as handle:
        return read_po(handle, locale="zh_CN", domain="wxpay")


def update() -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    old = read_catalog() if PO.exists() else None
    new = Catalog(locale="zh_CN", domain="wxpay", project="wxpay", fuzzy=False,
                  creation_date=old.creation_date if old else None)  # no churn in the header
    for message, where in sorted(all_messages().items(), key=lambda item: str(item[0])):
        previous = old.get(message[0] if isinstance(message, tuple) else message) if old else None
        string = previous.string if previous is not None else ("", "") if isinstance(message, tuple) else ""
        files = [w.rsplit(":", 1) for w in where if ".py:" in w][:3]
        helps = [w for w in where if ".py:" not in w][:3]
        new.add(message, string, locations=[(name, int(line)) for name, line in files],
                auto_comments=[f"help: {w}" for w in helps])
    PO.parent.mkdir(parents=True, exist_ok=True)
    with open(PO, "wb") as handle:
        write_po(handle, new, width=100, sort_output=True, include_previous=False)


def compile_catalog() -> None:
    from babel.messages.mofile import write_mo

    with open(MO, "wb") as handle:
        write_mo(handle, read_catalog())


def missing() -> list[object]:
    catalog = read_catalog()
    result = []
    for message in all_messages():
        entry = catalog.get(message[0] if isinstance(message, tuple) else message)
        strings = entry.string if entry is not None else ""
        if entry is None or not all(strings if isinstance(strings, tuple) else [strings]):
            result.append(message)
    return result


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "missing"
    if command == "update":
        update()
    elif command == "compile":
        compile_catalog()
    else:
        for message in missing():
            print(repr(message))
