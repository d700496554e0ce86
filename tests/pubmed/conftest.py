"""Fixtures for the PubMed tests: a stand-in for NCBI's E-utilities (ncbi_fake.py)."""

from __future__ import annotations

import pytest
from ncbi_fake import FakeNcbi, fake_ncbi


@pytest.fixture
def ncbi() -> FakeNcbi:
    return fake_ncbi()
