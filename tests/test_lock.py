"""constraints.txt, the lock a new machine and CI install from, agrees with pyproject.toml's ranges."""

import importlib.util
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lock():
    spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    return [Requirement(r) for r in [*project["dependencies"], *extras]]


def test_the_lock_was_resolved_from_this_pyproject(lock):
    recorded, _ = lock.read_lock()
    assert recorded == lock.dependency_digest(), "pyproject.toml's dependencies changed: run `make lock`"


def test_every_dependency_is_pinned_inside_its_range(lock):
    _, pins = lock.read_lock()
    wrong = {}
    for req in _requirements():
        version = pins.get(lock.canonical(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            wrong[str(req)] = version
    assert wrong == {}, "run `make lock`"


def test_a_changed_range_is_caught(lock, tmp_path):
    """The digest check is real: another range gives another digest."""
    pyproject = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pyproject.write_text(text.replace('"click>=8.1,<9"', '"click>=8.2,<9"'), encoding="utf-8")
    assert lock.dependency_digest(pyproject) != lock.dependency_digest()


def test_the_lock_pins_single_versions(lock):
    lines = [ln for ln in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines() if ln and ln[0] != "#"]
    _, pins = lock.read_lock()
    assert len(lines) == len(pins) and all("==" in ln for ln in lines)
