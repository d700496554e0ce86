"""`store.sqlite`: one way to open SQLite (settings, versioned schemas in one transaction, refusing newer files), and
every data-directory database upgraded in place from an empty file and from each schema an earlier release wrote."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from bedside.index.embedder import HashingEmbedder
from bedside.index.sentence_vectors import SentenceVectors
from bedside.index.vectors import VectorIndex
from bedside.ingest import chunk
from bedside.ingest.builder import TextBuilder
from bedside.model import Document, DocumentId
from bedside.pubmed.harvest import HarvestLog
from bedside.store import SqliteKnowledgeStore
from bedside.store.conversations import ConversationStore
from bedside.store.sqlite import Schema, SchemaTooNew, connect, open_database, schema_version

# -- the helper ------------------------------------------------------------------------------------------------------

STEPS = Schema("test database", ("CREATE TABLE a (x INTEGER)", "ALTER TABLE a ADD COLUMN y TEXT NOT NULL DEFAULT ''"))


def _version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute("PRAGMA user_version").fetchone()[0])


def test_a_connection_has_the_settings_every_database_needs(tmp_path: Path) -> None:
    db = connect(tmp_path / "x.sqlite", timeout=7)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 7000
        assert db.isolation_level is None  # transactions are explicit
    finally:
        db.close()
    assert (tmp_path / "x.sqlite").stat().st_mode & 0o077 == 0  # the owner's alone


def test_steps_run_in_order_once_and_the_version_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    open_database(path, Schema("test database", STEPS.steps[:1])).close()
    assert _version(path) == 1
    db = open_database(path, STEPS)  # step 2 only
    try:
        assert schema_version(db, STEPS) == 2
        assert [r[1] for r in db.execute("PRAGMA table_info(a)")] == ["x", "y"]
    finally:
        db.close()
    open_database(path, STEPS).close()  # nothing left to do: no error from adding y twice


def test_a_failing_step_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    open_database(path, Schema("test database", STEPS.steps[:1])).close()

    def boom(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO a VALUES (1, 'written by the failing migration')")
        raise RuntimeError("step failed")

    with pytest.raises(RuntimeError, match="step failed"):
        open_database(path, Schema("test database", (*STEPS.steps, boom)))
    assert _version(path) == 1  # neither step 2 nor step 3 is recorded, nor any of their changes
    with closing(sqlite3.connect(path)) as db:
        assert [r[1] for r in db.execute("PRAGMA table_info(a)")] == ["x"]
        assert db.execute("SELECT count(*) FROM a").fetchone()[0] == 0


def test_a_file_newer_than_the_code_is_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    open_database(path, STEPS).close()
    with pytest.raises(SchemaTooNew, match=rf"{path} was written by a newer bedside: .*version 2.* up to 1"):
        open_database(path, Schema("test database", STEPS.steps[:1]))
    assert _version(path) == 2


def test_processes_opening_one_new_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path, errors = tmp_path / "x.sqlite", []
    counted = Schema("test database", ("CREATE TABLE a (x INTEGER)", "INSERT INTO a VALUES (1)"))

    def opener() -> None:
        try:
            open_database(path, counted).close()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM a").fetchone()[0] == 1


def test_only_the_helper_opens_sqlite_files() -> None:
    import ast

    src = Path(__file__).parents[2] / "src" / "bedside"
    callers = []
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            func = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "connect"
                and getattr(func.value, "id", "") == "sqlite3"
            ):
                callers.append(path.relative_to(src).as_posix())
    assert set(callers) == {"store/sqlite.py"}


# -- the knowledge store (its version in meta.schema_version) ---------------------------------------------------------

KB_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE documents (id TEXT PRIMARY KEY, title TEXT NOT NULL, evidence_type TEXT NOT NULL, source TEXT NOT NULL,
    year INTEGER, authors TEXT NOT NULL, url TEXT NOT NULL, doi TEXT NOT NULL, pmid TEXT NOT NULL,
    issuer TEXT NOT NULL, guideline TEXT NOT NULL, format TEXT NOT NULL, origin TEXT NOT NULL, reviewed INTEGER,
    topics TEXT NOT NULL, blocks TEXT NOT NULL, extra TEXT NOT NULL, content_hash TEXT NOT NULL, text TEXT NOT NULL,
    passage_count INTEGER NOT NULL);
CREATE TABLE passages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE, ordinal INTEGER NOT NULL,
    section TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER, text TEXT NOT NULL);
CREATE INDEX passages_document ON passages(document_id, ordinal);
CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, document_id TEXT NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('upsert', 'remove')))
"""
FLAGS = "ALTER TABLE documents ADD COLUMN flags TEXT NOT NULL DEFAULT '[]'"
INDEX_STATE = "CREATE TABLE index_state (name TEXT PRIMARY KEY, watermark INTEGER NOT NULL)"
CORRECTIONS = """
ALTER TABLE documents ADD COLUMN corrections TEXT NOT NULL DEFAULT '[]';
ALTER TABLE documents ADD COLUMN retracted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE documents ADD COLUMN notice TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN collection TEXT NOT NULL DEFAULT '';
CREATE TABLE notices (notice_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE, kind TEXT NOT NULL,
    target_pmid TEXT NOT NULL, notice_pmid TEXT NOT NULL, source TEXT NOT NULL)
"""
# Every schema a release wrote before the current one, as (recorded version, DDL). Two releases both recorded
# version 3.
KB_SCHEMAS = {
    "1": ("1", [KB_V1]),
    "2 (flags)": ("2", [KB_V1, FLAGS]),
    "3 (watermarks)": ("3", [KB_V1, FLAGS, INDEX_STATE]),
    "3 (corrections, notices)": ("3", [KB_V1, FLAGS, CORRECTIONS]),
}
V1_COLUMNS = (
    "id, title, evidence_type, source, year, authors, url, doi, pmid, issuer, guideline, format, origin, reviewed, "
    "topics, blocks, extra, content_hash, text, passage_count"
)


def _doc(doc_id: str, body: str) -> Document:
    b = TextBuilder()
    b.heading("Section")
    b.paragraph(body)
    text, blocks = b.build()
    return Document(id=DocumentId(doc_id), title=f"Title {doc_id}", text=text, blocks=blocks, pmid="12345")


def _script(db: sqlite3.Connection, scripts: list[str]) -> None:
    for script in scripts:
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)


def test_an_empty_knowledge_store_is_made_at_the_current_version(tmp_path: Path) -> None:
    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    try:
        assert store.get_meta("schema_version") == "4"
    finally:
        store.close()


@pytest.mark.parametrize("schema", list(KB_SCHEMAS))
def test_a_knowledge_store_of_each_earlier_schema_upgrades_in_place(tmp_path: Path, schema: str) -> None:
    recorded, ddl = KB_SCHEMAS[schema]
    doc = _doc("d1", "Give oral iron 65 mg elemental iron once daily.")
    current = SqliteKnowledgeStore(tmp_path / "current.sqlite")  # the rows an older release would have written
    current.write([(doc, chunk(doc))])
    current.close()
    path = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(path)) as db:
        _script(db, ddl)
        db.execute("ATTACH ? AS cur", (str(tmp_path / "current.sqlite"),))
        db.execute(f"INSERT INTO documents ({V1_COLUMNS}) SELECT {V1_COLUMNS} FROM cur.documents")
        db.execute("INSERT INTO passages SELECT * FROM cur.passages")
        db.execute("INSERT INTO changes SELECT * FROM cur.changes")
        db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (recorded,))
        db.commit()
    store = SqliteKnowledgeStore(path)
    try:
        assert store.get_meta("schema_version") == "4"
        assert store.document("d1") == doc  # every fact kept; the new columns at their defaults
        assert store.last_change() == 1 and store.watermarks() == {}
        store.set_watermark("lexical", 1)
        notice = Document(
            id=DocumentId("n1"), title="Retraction", text="Retracted.", retracted=True, collection="ward-protocols"
        )
        store.write([(notice, chunk(notice))])
        assert store.document("n1").retracted and store.collection_names() == ["ward-protocols"]
        assert store.check_integrity() == []
    finally:
        store.close()
    with closing(sqlite3.connect(path)) as db:
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"documents_collection", "documents_guideline", "documents_title", "notices_target"} <= indexes


def test_a_knowledge_store_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kb.sqlite"
    SqliteKnowledgeStore(path).close()
    with closing(sqlite3.connect(path)) as db:
        db.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
        db.commit()
    with pytest.raises(SchemaTooNew, match=f"{path} was written by a newer bedside"):
        SqliteKnowledgeStore(path)


# -- conversations, vectors, sentence vectors, the harvest log (their version in the file header) ---------------------

CONVERSATIONS_V0 = """
CREATE TABLE conversations (id TEXT PRIMARY KEY, created TEXT NOT NULL);
CREATE TABLE turns (conversation TEXT NOT NULL REFERENCES conversations(id), n INTEGER NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (conversation, n))
"""
CONVERSATIONS_OWNED = CONVERSATIONS_V0.replace(
    "created TEXT NOT NULL);", "created TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '');"
)


@pytest.mark.parametrize("ddl", [None, CONVERSATIONS_V0, CONVERSATIONS_OWNED], ids=["empty", "no owners", "owners"])
def test_conversations_upgrade_in_place(tmp_path: Path, ddl: str | None) -> None:
    path = tmp_path / "conversations.sqlite"
    if ddl is not None:
        with closing(sqlite3.connect(path)) as db:
            _script(db, [ddl])
            db.execute("INSERT INTO conversations (id, created) VALUES ('c-old', '2026-01-02')")
            db.execute("INSERT INTO turns VALUES ('c-old', 1, 'iron dose?', '{\"q\": 1}', '2026-01-02')")
            db.commit()
    store = ConversationStore(path)
    try:
        if ddl is not None:
            assert store.turns("c-old") == [{"question": "iron dose?", "answer": {"q": 1}, "created": "2026-01-02"}]
            assert store.questions("c-old", owner="") == ["iron dose?"]  # no web client's
        new = store.new("2026-03-04", owner="client-a")
        store.add(new, "and in pregnancy?", {"a": 2}, "2026-03-04")
        assert store.questions(new, owner="client-a") == ["and in pregnancy?"]
    finally:
        store.close()
    assert _version(path) == 1


VECTORS_V0 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE vectors (seq INTEGER PRIMARY KEY, document_id TEXT NOT NULL, text_hash TEXT NOT NULL,
    etype INTEGER NOT NULL, year INTEGER NOT NULL, source TEXT NOT NULL, vec BLOB NOT NULL);
CREATE INDEX vectors_document ON vectors(document_id)
"""
VECTORS_TITLES = VECTORS_V0.replace("vec BLOB NOT NULL)", "vec BLOB NOT NULL, title_terms BLOB)")
PENDING = "CREATE TABLE pending (text_hash TEXT PRIMARY KEY, vec BLOB NOT NULL)"


@pytest.mark.parametrize(
    "ddl",
    [None, [VECTORS_V0], [VECTORS_TITLES], [VECTORS_TITLES, PENDING]],
    ids=["empty", "first release", "title terms", "pending vectors"],
)
def test_a_vector_index_upgrades_in_place(tmp_path: Path, ddl: list[str] | None) -> None:
    store = SqliteKnowledgeStore(tmp_path / "kb.sqlite")
    docs = [_doc(f"d{i}", f"Entry {i} on ferritin and oral iron at {i} mg.") for i in range(3)]
    store.write([(d, chunk(d)) for d in docs])
    folder = tmp_path / "vectors"
    if ddl is not None:
        folder.mkdir()
        with closing(sqlite3.connect(folder / "vectors.sqlite")) as db:
            _script(db, ddl)
            db.execute("INSERT INTO meta VALUES ('model', ?), ('watermark', '0')", (HashingEmbedder().name,))
            db.commit()
    index = VectorIndex(folder, HashingEmbedder())
    try:
        assert _version(folder / "vectors.sqlite") == 1
        index.sync(store)
        assert index.seqs() == store.seqs() and index.watermark() == store.last_change()
        assert index._meta("titles") == "complete"  # title terms recorded by the sync
        assert {h.seq for h in index.search("ferritin oral iron", 3)} <= set(store.seqs())
    finally:
        index.close()
        store.close()


@pytest.mark.parametrize("legacy", [False, True], ids=["empty", "before versioning"])
def test_the_sentence_vector_cache_and_the_harvest_log_upgrade_in_place(tmp_path: Path, legacy: bool) -> None:
    sentences, harvest = tmp_path / "vectors" / "sentences.sqlite", tmp_path / "pubmed" / "harvest.sqlite"
    embedder = HashingEmbedder()
    if legacy:
        for path in (sentences, harvest):
            path.parent.mkdir()
        with closing(sqlite3.connect(sentences)) as db:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute("CREATE TABLE sentences (text_hash TEXT PRIMARY KEY, n INTEGER NOT NULL, vecs BLOB NOT NULL)")
            db.commit()
        with closing(sqlite3.connect(harvest)) as db:
            db.execute("CREATE TABLE done (query TEXT NOT NULL, pmid TEXT NOT NULL, PRIMARY KEY (query, pmid))")
            db.execute("INSERT INTO done VALUES ('iron', '123')")
            db.commit()
    cache = SentenceVectors(sentences, embedder)
    try:
        vecs = cache.vectors_for({1: "Oral iron first. Then recheck ferritin."})[1]
        assert vecs.shape == (2, 384) and np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-2)
        assert cache.warm(["Oral iron first. Then recheck ferritin."]) == 0  # held
    finally:
        cache.close()
    log = HarvestLog(harvest)
    try:
        log.mark("iron", ["456"])
        assert log.done("iron", ["123", "456"]) == ({"123", "456"} if legacy else {"456"})
    finally:
        log.close()
    assert _version(sentences) == 1 and _version(harvest) == 1
