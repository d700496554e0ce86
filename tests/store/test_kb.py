import pytest

from bedside.errors import NotFound
from bedside.ingest import chunk
from bedside.ingest.builder import TextBuilder
from bedside.model import Document, DocumentId, EvidenceType
from bedside.store import SqliteKnowledgeStore


def _doc(doc_id: str, body: str, **kw) -> Document:
    b = TextBuilder()
    b.heading("Section")
    b.paragraph(body)
    text, blocks = b.build()
    return Document(id=DocumentId(doc_id), title=f"Title {doc_id}", text=text, blocks=blocks, **kw)


@pytest.fixture
def store(tmp_path):
    s = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    yield s
    s.close()


def test_document_heads_carry_every_fact_but_the_text(store):
    """What a search hit shows of its document, read without the document's whole text and outline."""
    doc = _doc(
        "d1",
        "Hydroxocobalamin 1 mg IM.",
        evidence_type=EvidenceType.GUIDELINE,
        source="BSH",
        year=2023,
        authors=("A B",),
        doi="10.2/y",
        pmid="123",
        topics=("B12",),
    )
    store.write([(doc, chunk(doc))])
    heads = store.document_heads(["d1", "missing"])
    assert list(heads) == ["d1"]
    head = heads["d1"]
    assert head.text == "" and head.blocks == ()
    full = store.document("d1")
    for field in ("id", "title", "evidence_type", "source", "year", "authors", "doi", "pmid", "topics", "link"):
        assert getattr(head, field) == getattr(full, field), field


def test_rewrite_replaces_passages_and_logs_changes(store):
    a = _doc("a", "First version of the text.")
    store.write([(a, chunk(a))])
    a2 = _doc("a", "Second version, longer. It has two sentences.")
    store.write([(a2, chunk(a2))])
    assert [p.text for p in store.passages_of("a")] == ["Second version, longer. It has two sentences."]
    assert [(op, d) for _, d, op in store.changes_after(0)] == [("upsert", "a"), ("upsert", "a")]
    store.remove("a")
    assert store.counts() == (0, 0)
    assert store.changes_after(0)[-1][1:] == ("a", "remove")
    with pytest.raises(NotFound):
        store.remove("a")
    with pytest.raises(NotFound):
        store.document("a")


def test_failed_transaction_leaves_nothing_behind(store):
    good = _doc("good", "Kept text.")
    store.write([(good, chunk(good))])
    bad = _doc("bad", "Never stored.")
    passages = chunk(bad) + chunk(good)  # a passage id that already exists: the insert fails
    with pytest.raises(Exception, match="UNIQUE"):
        store.write([(bad, passages)])
    assert store.counts() == (1, 1)
    assert store.check_integrity() == []
    assert store.last_change() == 1


def test_stats_by_type_and_source(store):
    docs = [
        _doc(f"d{i}", "Text.", evidence_type=t, source=s)
        for i, (t, s) in enumerate(
            [(EvidenceType.GUIDELINE, "NICE"), (EvidenceType.GUIDELINE, "NICE"), (EvidenceType.RESEARCH, "")]
        )
    ]
    store.write([(d, chunk(d)) for d in docs])
    stats = store.stats()
    assert stats["documents"] == 3 and stats["passages"] == 3
    assert stats["by_type"] == {"guideline": 2, "research": 1}
    assert stats["by_source"] == {"NICE": 2, "(unknown)": 1}


def test_flags_round_trip_and_a_schema_1_store_gains_the_column(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    SqliteKnowledgeStore(path).close()
    db = sqlite3.connect(path)  # make it a schema 1 store: no flags column
    db.execute("ALTER TABLE documents DROP COLUMN flags")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    store = SqliteKnowledgeStore(path)
    try:
        assert store.get_meta("schema_version") == "4"
        assert store.watermark("lexical") == 0  # schema 3: watermarks per index
        doc = _doc("d1", "Give amoxicillin 500 mg three times daily.", flags=("dropped 1 hidden text fragment",))
        store.write([(doc, chunk(doc))])
        assert store.document("d1") == doc
        assert doc.content_hash == _doc("d1", "Give amoxicillin 500 mg three times daily.").content_hash
    finally:
        store.close()


def test_a_schema_3_store_gains_the_correction_columns(tmp_path):
    import sqlite3

    path = tmp_path / "old.sqlite"
    SqliteKnowledgeStore(path).close()
    db = sqlite3.connect(path)
    for index in ("documents_collection", "documents_guideline", "documents_title"):
        db.execute(f"DROP INDEX {index}")
    for column in ("corrections", "retracted", "notice", "collection"):
        db.execute(f"ALTER TABLE documents DROP COLUMN {column}")
    db.execute("DROP TABLE notices")
    db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    store = SqliteKnowledgeStore(path)
    try:
        assert store.get_meta("schema_version") == "4"
        doc = _doc("d1", "Text.", collection="ward-protocols", retracted=True)
        store.write([(doc, chunk(doc))])
        assert store.document("d1") == doc
    finally:
        store.close()
