"""The starter knowledge base: guideline digests shipped with bedside, loaded on first use."""

from __future__ import annotations

import hashlib
from pathlib import Path

DIGESTS = Path(__file__).parent / "digests"


def digest_files() -> list[Path]:
    """The shipped digest files, sorted by name."""
    return sorted(DIGESTS.glob("*.md"))


def fingerprint() -> str:
    """A hash of every shipped digest's name and content: it changes whenever a digest does."""
    h = hashlib.sha256()
    for path in digest_files():
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()
