import pytest

from bedside.errors import IngestError
from bedside.ingest import chunk, read_path
from bedside.model import EvidenceType


def _read(path):
    return list(read_path(path))


def test_digest_front_matter_and_sections(fixtures):
    [doc] = _read(fixtures / "markdown" / "digest.md")
    assert doc.id == "digest"
    assert doc.evidence_type is EvidenceType.GUIDELINE
    assert doc.issuer == "Example Society of Gastroenterology"
    assert doc.guideline.startswith("Example Society guideline")
    assert doc.source == "Example Gut Journal"
    assert doc.year == 2021
    assert doc.doi == "10.9999/example.2021.001"
    assert doc.link == "https://doi.org/10.9999/example.2021.001"
    assert doc.reviewed is False
    assert "IDA" in doc.topics
    headings = [b.heading for b in doc.blocks]
    assert "Iron deficiency anaemia in adults > Treatment > Oral iron" in headings
    assert "Iron deficiency anaemia in adults > Critical warnings" in headings
    # Markup is gone, words and numbers stay.
    assert "**" not in doc.text and "](" not in doc.text and "|---" not in doc.text
    assert "Use intravenous iron when oral iron" in doc.text
    assert "Ferric carboxymaltose | 1000 mg" in doc.text
    assert "ferritin below 15 µg/L" in doc.text
    for block in doc.blocks:
        assert doc.text[block.start : block.end].strip()


def test_bullets_become_separate_sentences(fixtures):
    [doc] = _read(fixtures / "markdown" / "digest.md")
    for p in chunk(doc):
        assert doc.text[p.start : p.end] == p.text
    assert "- In adults" not in doc.text
    assert "In adults, a serum ferritin below 15 µg/L confirms iron deficiency;" in doc.text


def test_same_file_same_id_and_hash(fixtures):
    [a] = _read(fixtures / "markdown" / "digest.md")
    [b] = _read(fixtures / "markdown" / "digest.md")
    assert (a.id, a.content_hash) == (b.id, b.content_hash)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad_yaml.md", "bad_yaml.md:3: invalid YAML front matter"),
        ("bad_type.md", "front matter field 'type': unknown evidence type 'opinion piece'"),
        ("latin1.txt", "latin1.txt:1: not valid UTF-8"),
        ("empty.md", "empty.md: file is empty"),
    ],
)
def test_broken_files_name_file_and_line(fixtures, name, expected):
    with pytest.raises(IngestError) as info:
        _read(fixtures / "markdown" / name)
    assert expected in str(info.value)
    assert name in str(info.value)


def test_plain_text_without_front_matter(tmp_path):
    path = tmp_path / "Notes On Gout.txt"
    path.write_text("Gout flares respond to colchicine.\n\nA second paragraph.\n", encoding="utf-8")
    [doc] = _read(path)
    assert doc.id == "notes-on-gout"
    assert doc.title == "Notes On Gout"
    assert doc.evidence_type is EvidenceType.RESEARCH
    assert doc.text == "Gout flares respond to colchicine.\n\nA second paragraph."
