"""Run the test suite against the oldest versions pyproject.toml declares (.ci/run does, every time).

    python .ci/floors.py              # a new venv, the floors, then pytest
    python .ci/floors.py --latest     # the same with the newest versions allowed

Every `name>=X` in [project] dependencies and the `test` extra is installed as
`name==X` into a new virtual environment made for this run (never yours, never
one left by an earlier run) without pip's cache, so what is proven is what a
new machine gets. The suite runs from this checkout with PYTHONPATH, so a floor
that no longer holds shows up as a failing test rather than at a user's. The
environment is removed afterwards unless --venv names where to keep it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def requirements(latest: bool, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """What to install: every runtime and test-extra requirement, each pinned to its floor."""
    project = tomllib.loads(pyproject.read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["test"]
    if latest:
        return specs
    pinned = []
    for spec in specs:
        match = re.match(r"^([A-Za-z0-9_.-]+)\s*>=\s*([^,\s]+)", spec)
        if not match:
            sys.exit(f"no floor declared for {spec!r}: declare one")
        pinned.append(f"{match[1]}=={match[2]}")
    return pinned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latest", action="store_true", help="newest allowed versions instead of the floors")
    parser.add_argument("--venv", default=None, help="where to build the environment (kept; it must not exist yet)")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    if args.venv and Path(args.venv).exists():
        sys.exit(f"{args.venv} exists: the floors are proven in a new environment only")
    venv = Path(args.venv or tempfile.mkdtemp(prefix=f"wxpay-{'latest' if args.latest else 'floors'}-"))
    try:
        sys.exit(run_suite(venv, args))
    finally:
        if not args.venv:
            shutil.rmtree(venv, ignore_errors=True)


def run_suite(venv: Path, args) -> int:
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    wanted = requirements(args.latest)
    print("installing:", " ".join(wanted), flush=True)
    no_cache = {**os.environ, "PIP_NO_CACHE_DIR": "1"}
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-cache-dir", *wanted], check=True, env=no_cache)
    subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], check=True)
    # The `wxpay` script the subprocess tests run: a shim of this checkout, in the venv.
    shim = venv / "bin" / "wxpay"
    shim.write_text(f"#!{python}\nfrom wxpay_cli.cli import main\nmain()\n")
    shim.chmod(0o755)
    env = {**no_cache, "PYTHONPATH": str(ROOT), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args],
                            cwd=ROOT, env=env)
    return result.returncode


if __name__ == "__main__":
    main()
