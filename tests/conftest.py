from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(autouse=True)
def _fast_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests use the deterministic hashing embedder unless they test the real model explicitly."""
    monkeypatch.setenv("BEDSIDE_EMBEDDER", "hashing")


@pytest.fixture(scope="session")
def starter_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the starter knowledge base loaded (built once per test session)."""
    from bedside import Bedside
    from bedside.config import load_settings

    path = tmp_path_factory.mktemp("starter") / "data"
    old = os.environ.get("BEDSIDE_EMBEDDER")
    os.environ["BEDSIDE_EMBEDDER"] = "hashing"
    try:
        with Bedside(settings=load_settings(data_dir=path, starter_kb=True)) as b:
            report = b.ensure_starter_kb()
            assert report is not None and report.ok, report
    finally:
        if old is None:
            os.environ.pop("BEDSIDE_EMBEDDER", None)
        else:
            os.environ["BEDSIDE_EMBEDDER"] = old
    return path


@pytest.fixture
def starter(starter_data: Path, tmp_path: Path):
    """A private copy of the starter data directory, opened."""
    from bedside import Bedside

    path = tmp_path / "data"
    shutil.copytree(starter_data, path)
    b = Bedside(data_dir=path, starter_kb=True)
    yield b
    b.close()
