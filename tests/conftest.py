from __future__ import annotations

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
