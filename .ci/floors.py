"""Run the test suite against the oldest versions pyproject.toml declares (not run by CI).

    python .ci/floors.py              # venv in /tmp/wxpay-floors, then pytest
    python .ci/floors.py --latest     # the same with the newest versions allowed

Every `name>=X` in [project] dependencies and the `test` extra is installed as
`name==X` into a throwaway virtual environment (never into yours), and the
suite runs from this checkout with PYTHONPATH, so a floor that no longer holds
shows up as a failing test rather than at a user's.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def requirements(latest: bool) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
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
    parser.add_argument("--venv", default=None, help="where to build the environment")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    venv = Path(args.venv or f"/tmp/wxpay-{'latest' if args.latest else 'floors'}")
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wanted = requirements(args.latest)
    print("installing:", " ".join(wanted), flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade" if args.latest else "--force-reinstall",
                    *wanted], check=True)
    subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], check=True)
    # The `wxpay` script the subprocess tests run: a shim of this checkout, in the venv.
    shim = venv / "bin" / "wxpay"
    shim.write_text(f"#!{python}\nfrom wxpay_cli.cli import main\nmain()\n")
    shim.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *args.pytest_args],
                            cwd=ROOT, env=env)
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
