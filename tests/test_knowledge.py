import json
import shutil

import pytest

from bedside import Bedside


@pytest.fixture
def bedside(tmp_path):
    b = Bedside(data_dir=tmp_path / "data", starter_kb=False)
    yield b
    b.close()


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_ingest_is_idempotent_and_updates_in_place(bedside, tmp_path, fixtures):
    corpus = tmp_path / "c.jsonl"
    records = [{"id": f"r{i}", "title": f"T{i}", "text": f"Iron deficiency note number {i}."} for i in range(5)]
    _write_jsonl(corpus, records)
    first = bedside.ingest([corpus])
    assert (first.added, first.updated, first.unchanged, first.failed) == (5, 0, 0, [])
    again = bedside.ingest([corpus])
    assert (again.added, again.updated, again.unchanged, again.passages) == (0, 0, 5, 0)
    changes = bedside.store.last_change()
    records[2]["text"] = "Iron deficiency note, revised."
    _write_jsonl(corpus, records)
    third = bedside.ingest([corpus])
    assert (third.added, third.updated, third.unchanged) == (0, 1, 4)
    assert bedside.store.last_change() == changes + 1
    assert [p.text for p in bedside.store.passages_of("r2")] == ["Iron deficiency note, revised."]
    assert bedside.stats()["documents"] == 5


def test_one_bad_file_does_not_stop_the_batch(bedside, tmp_path, fixtures):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(fixtures / "markdown" / "digest.md", folder / "digest.md")
    shutil.copy(fixtures / "markdown" / "bad_yaml.md", folder / "bad_yaml.md")
    shutil.copy(fixtures / "medline" / "truncated.xml", folder / "truncated.xml")
    shutil.copy(fixtures / "medline" / "pubmed_efetch.xml", folder / "pubmed.xml")
    (folder / ".hidden.md").write_text("ignored", encoding="utf-8")
    report = bedside.ingest([folder, tmp_path / "missing.pdf"])
    assert report.added == 5  # the digest and four MEDLINE articles
    failed = dict(report.failed)
    assert failed[str(tmp_path / "missing.pdf")] == "no such file or directory"
    assert any(k.startswith(str(folder / "bad_yaml.md")) for k in failed)
    assert any(k.startswith(str(folder / "truncated.xml")) and "malformed XML" in v for k, v in failed.items())
    assert bedside.store.check_integrity() == []


def test_globs_and_duplicate_ids(bedside, tmp_path):
    for name in ("a", "b"):
        _write_jsonl(tmp_path / f"{name}.jsonl", [{"id": "same", "text": f"Text from {name}."}])
    report = bedside.ingest([str(tmp_path / "*.jsonl")])
    assert report.added == 1
    [(where, message)] = report.failed
    assert where.endswith("b.jsonl:1") and "duplicate document id 'same'" in message


def test_remove_and_stats(bedside, fixtures):
    bedside.ingest([fixtures / "medline" / "pubmed_efetch.xml"])
    stats = bedside.stats()
    assert stats["documents"] == 4
    assert stats["by_type"] == {
        "randomized-trial": 1,
        "systematic-review": 1,
        "guideline": 1,
        "observational-study": 1,
    }
    bedside.remove("90000001")
    assert bedside.stats()["documents"] == 3
    assert bedside.store.passages_of("90000001") == []


def test_format_override(bedside, tmp_path):
    odd = tmp_path / "notes.data"
    odd.write_text("---\ntitle: Odd suffix\n---\n\nStill Markdown.\n", encoding="utf-8")
    assert bedside.ingest([odd]).failed[0][1].startswith("unknown file type .data")
    report = bedside.ingest([odd], format="markdown")
    assert report.added == 1 and bedside.store.document("notes").title == "Odd suffix"


def test_evidence_type_override(bedside, fixtures):
    bedside.ingest([fixtures / "jsonl" / "corpus.jsonl"], evidence_type="guideline")
    assert set(bedside.stats()["by_type"]) == {"guideline"}


def test_a_postgres_database_url_moves_the_knowledge_store_to_postgres(tmp_path, postgres_url):
    """BEDSIDE_DATABASE_URL naming PostgreSQL holds the knowledge store too: a second host with its own embedded
    indexes finds what the first ingested, and sees a removal after its next sync."""
    from bedside.config import load_settings
    from bedside.store.kb_postgres import PostgresKnowledgeStore

    corpus = tmp_path / "c.jsonl"
    _write_jsonl(
        corpus,
        [
            {"id": "h1", "title": "Hydroxocobalamin", "text": "Hydroxocobalamin 1 mg IM treats B12 lack."},
            {"id": "f1", "title": "Ferritin", "text": "Ferritin below 30 ug/L shows iron deficiency."},
        ],
    )
    first = Bedside(settings=load_settings(data_dir=tmp_path / "a", database_url=postgres_url, starter_kb=False))
    try:
        assert isinstance(first.store, PostgresKnowledgeStore)
        assert first.ingest([corpus]).added == 2
        assert not (tmp_path / "a" / "knowledge.sqlite").exists()
        assert first.store.watermarks() == {"dense": first.store.last_change(), "lexical": first.store.last_change()}
        second = Bedside(settings=load_settings(data_dir=tmp_path / "b", database_url=postgres_url, starter_kb=False))
        try:
            assert [h.document_id for h in second.search("hydroxocobalamin dose", limit=1)] == ["h1"]
            first.remove("h1")
            second.kb.sync_indexes()
            assert "h1" not in {h.document_id for h in second.search("hydroxocobalamin", limit=5)}
        finally:
            second.close()
    finally:
        first.close()


def test_a_document_with_a_nul_character_fails_alone_on_postgres(tmp_path, postgres_url):
    """PostgreSQL text cannot hold U+0000: such a document is reported by its origin and field, and the rest of its
    batch is written. (Files never get that far: their readers remove control characters, with a warning.)"""
    from bedside.config import load_settings
    from bedside.ingest.builder import TextBuilder
    from bedside.model import Document, DocumentId

    def doc(doc_id: str, text: str, title: str = "Iron") -> Document:
        b = TextBuilder()
        b.paragraph(text)
        body, blocks = b.build()
        return Document(DocumentId(doc_id), title=title, text=body, blocks=blocks, origin=f"feed.xml:{doc_id}")

    settings = load_settings(data_dir=tmp_path / "d", database_url=postgres_url, starter_kb=False, embedder="hashing")
    with Bedside(settings=settings) as b:
        docs = [
            doc("1", "Ferritin below 30 ug/L shows iron deficiency."),
            doc("2", "Oral iron\x00 daily."),
            doc("3", "Hydroxocobalamin 1 mg IM treats B12 lack."),
            doc("4", "Fine text.", title="Ir\x00on"),
        ]
        report = b.kb.ingest_records(docs)
        assert report.failed == [
            (
                "feed.xml:2",
                "document '2': field 'text' contains a NUL character (U+0000), which the knowledge store cannot hold",
            ),
            (
                "feed.xml:4",
                "document '4': field 'title' contains a NUL character (U+0000), which the knowledge store cannot hold",
            ),
        ]
        assert (report.added, report.passages) == (2, 2)
        assert sorted(b.store.hashes(["1", "2", "3", "4"])) == ["1", "3"]
        assert [h.document_id for h in b.search("hydroxocobalamin", limit=1)] == ["3"]
        corpus = tmp_path / "c.jsonl"
        _write_jsonl(corpus, [{"id": "5", "title": "Iron", "text": "Ferrous\u0000 sulfate 200 mg daily."}])
        from_file = b.ingest([corpus])
        assert from_file.failed == [] and from_file.added == 1 and "control character" in from_file.warnings[0][1]
        assert b.store.document("5").text == "Ferrous sulfate 200 mg daily."
