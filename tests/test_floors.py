""".ci/floors.py installs exactly the floors pyproject.toml declares, runtime and test extra."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def floors():
    spec = importlib.util.spec_from_file_location("floors", ROOT / ".ci" / "floors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def project(tmp_path, dependencies, test):
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[project]\nname = 'x'\ndependencies = {dependencies!r}\n"
                    f"[project.optional-dependencies]\ntest = {test!r}\n")
    return path


def test_every_requirement_is_pinned_to_its_floor(tmp_path):
    path = project(tmp_path, ["click>=8.4,<9", "tomli-w >= 1.0"], ["pytest>=8"])
    assert floors().requirements(False, path) == ["click==8.4", "tomli-w==1.0", "pytest==8"]


def test_latest_asks_for_the_ranges_as_declared(tmp_path):
    path = project(tmp_path, ["click>=8.4,<9"], ["pytest>=8"])
    assert floors().requirements(True, path) == ["click>=8.4,<9", "pytest>=8"]


def test_a_requirement_without_a_floor_stops_the_run(tmp_path):
    path = project(tmp_path, ["click>=8.4", "rich"], [])
    with pytest.raises(SystemExit, match="no floor declared for 'rich'"):
        floors().requirements(False, path)


def test_the_projects_own_floors_cover_every_declared_requirement():
    pinned = floors().requirements(False)
    assert all("==" in spec for spec in pinned) and any(spec.startswith("pytest==") for spec in pinned)
