"""Hand-made mutation run: break the safety-critical code one line at a time, see a test fail.

Each `tests/mutation/m_*.py` lists `MUTATIONS` (path, exact original text,
replacement, why it matters) and the `TESTS` that should kill them. The run
copies the project to a temporary folder, applies one mutation at a time
there (the working tree is never touched), runs those tests with the copy
first on PYTHONPATH, and prints each survivor and the score.

    python tests/mutation/run.py            # every list
    python tests/mutation/run.py serials    # only m_serials.py

Exit status 1 when the score is under 90 % or a mutation no longer applies
(its original text changed: update the list).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def lists(names: list[str]):
    for path in sorted(HERE.glob("m_*.py")):
        if names and path.stem[2:] not in names:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield path.stem[2:], module.MUTATIONS, module.TESTS


def main(argv: list[str]) -> int:
    total = killed = stale = 0
    with tempfile.TemporaryDirectory(prefix="wxpay-mutation-") as temp:
        copy = Path(temp) / "project"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".pytest_cache"))
        env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
        for name, mutations, tests in lists(argv):
            for path, original, replacement, why in mutations:
                target = copy / path
                source = target.read_text(encoding="utf-8")
                if source.count(original) != 1:
                    print(f"STALE  {name}: {path}: original text not found once ({why})")
                    stale += 1
                    continue
                total += 1
                target.write_text(source.replace(original, replacement), encoding="utf-8")
                try:
                    result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                                            cwd=copy, env=env, capture_output=True, text=True, timeout=600)
                finally:
                    target.write_text(source, encoding="utf-8")
                if result.returncode == 0:
                    print(f"ALIVE  {name}: {path}: {why}")
                else:
                    killed += 1
                    print(f"killed {name}: {path}: {why}")
    score = killed / total if total else 1.0
    print(f"{killed}/{total} mutations killed ({score:.0%}); {stale} stale")
    return 0 if score >= 0.9 and not stale else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
