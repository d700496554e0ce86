"""Every shipped digest parses, has complete front matter and a usable link, and follows the writing rules."""

import re

import pytest

from bedside import starter_kb
from bedside.ingest import chunk, read_path
from bedside.model import EvidenceType
from bedside.text.sentences import split

DIGESTS = starter_kb.digest_files()
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_URL = re.compile(r"^https://[a-z0-9.-]+\.[a-z]{2,}(/\S*)?$")


def test_the_starter_knowledge_base_is_substantial():
    assert len(DIGESTS) >= 45


@pytest.mark.parametrize("path", DIGESTS, ids=[p.stem for p in DIGESTS])
def test_digest(path):
    [doc] = list(read_path(path))
    assert doc.evidence_type is EvidenceType.GUIDELINE
    assert doc.title and doc.issuer and doc.guideline
    assert doc.year is not None and 1990 <= doc.year <= 2026
    assert doc.reviewed is False, "digests stay reviewed: false until the advisory board signs them off"
    assert doc.doi or doc.url
    if doc.doi:
        assert _DOI.match(doc.doi), doc.doi
    if doc.url:
        assert _URL.match(doc.url), doc.url
    assert doc.link.startswith("https://")
    assert len(doc.topics) >= 3
    words = len(doc.text.split())
    assert 400 <= words <= 1400, words
    headings = {b.heading.split(" > ")[-1].lower() for b in doc.blocks}
    assert any("critical warnings" in h for h in headings), "a Critical warnings section is required"
    too_long = [s for s in split(doc.text) if len(s.split()) > 45]
    assert too_long == []
    for p in chunk(doc):
        assert doc.text[p.start : p.end] == p.text


def test_digest_ids_are_unique():
    ids = [next(iter(read_path(p))).id for p in DIGESTS]
    assert len(ids) == len(set(ids))
