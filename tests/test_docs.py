"""The README is the newcomer's short page; docs/ holds the manual, and says everything there is."""

from __future__ import annotations

import re
import subprocess
import sys

from common import ROOT, commands

DOCS = ROOT / "docs"


def manual() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(DOCS.glob("*.md"))
                     if path.name != "reference.md")


def test_every_command_and_flag_is_explained_in_the_manual():
    """Explained in words, not only in the generated reference."""
    text = manual()
    for path, command in commands():
        name = " ".join(path)
        assert (command.help or "").strip(), f"{name} has no help text"
        assert f"wxpay {name}" in text, f"docs/ does not mention `wxpay {name}`"
        undocumented = [flag for param in command.params for flag in param.opts
                        if flag.startswith("--") and flag not in text]
        assert not undocumented, f"docs/ does not mention {undocumented} of `wxpay {name}`"


def test_the_command_reference_is_current():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "reference.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_the_readme_is_a_short_page_that_starts_where_a_newcomer_starts():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    headings = [line for line in readme.splitlines() if line.startswith("## ")]
    assert headings[:3] == ["## Install", "## The two commands", "## A five-minute tour on the sandbox"]
    assert "3.11" in readme and "Windows" in readme and "## 中文快速上手" in headings and "## Exit codes" in headings


def test_every_link_between_pages_leads_to_a_file_that_exists():
    pages = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "benchmarks" / "README.md", *DOCS.glob("*.md")]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_batch_page_lists_every_result_name_of_every_batch_command():
    """A script or a spreadsheet formula is written against these names: the manual lists them all."""
    from wxpay_cli.flows.batch_lines import ERROR, ERROR_COLUMNS, OPERATIONS, WECHAT_EXTRA

    page = (DOCS / "batch.md").read_text(encoding="utf-8")
    for command, operation in OPERATIONS.items():
        rows = [line for line in page.splitlines() if line.startswith(f"| `wxpay {command}`")]
        assert len(rows) == 1, f"docs/batch.md has no table row for wxpay {command}"
        json_cell, csv_cell = rows[0].split("|")[2:4]
        assert set(re.findall(r"`([^`]+)`", json_cell)) == set(operation.fields), command
        assert re.findall(r"`([^`]+)`", csv_cell) == list(operation.columns), command
    for name in (ERROR, *ERROR_COLUMNS, WECHAT_EXTRA):
        assert f"`{name}`" in page
