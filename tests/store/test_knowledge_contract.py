"""The knowledge store's contract: one suite, inherited by every implementation (SQLite always; PostgreSQL on a real
server, see `postgres_server` in tests/conftest.py).

A backend joins by subclassing `KnowledgeStoreContract` and giving the `location` fixture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bedside.errors import InvalidInput, NotFound
from bedside.ingest import chunk, read_path
from bedside.ingest.builder import TextBuilder
from bedside.model import CorrectionKind, Document, DocumentId, EvidenceType
from bedside.store import KnowledgeStore, open_knowledge_store

SRC = Path(__file__).resolve().parents[2] / "src"


def _doc(doc_id: str, *paragraphs: str, **kw) -> Document:
    b = TextBuilder()
    b.heading("Section")
    for text in paragraphs:
        b.paragraph(text)
    text, blocks = b.build()
    return Document(id=DocumentId(doc_id), title=f"Title {doc_id}", text=text, blocks=blocks, **kw)


def _long(doc_id: str, n: int, tag: str) -> Document:
    """A document of about `n` passages whose every passage names `tag`."""
    words = " ".join(f"{tag} word{i} of a long paragraph about anaemia and ferritin levels" for i in range(12))
    return _doc(doc_id, *(f"{tag} paragraph {i}. {words}." for i in range(n)))


def _put(store: KnowledgeStore, *docs: Document) -> None:
    store.write([(d, chunk(d)) for d in docs])


class _FollowingIndex:
    """The smallest index that follows a store's change log with its watermark kept in the store: what a shared
    index (one that every host searches) does. Holds passage ids by document."""

    def __init__(self, store: KnowledgeStore, name: str = "toy") -> None:
        self.store = store
        self.name = name
        self.passages: dict[str, set[str]] = {}

    def sync(self, crash_after: int | None = None) -> None:
        if self.store.watermark(self.name) < self.store.pruned_upto():
            self.passages = {}
            for part in self.store.stream_index_rows(batch=7):
                for row in part:
                    self.passages.setdefault(row.document_id, set()).add(row.passage_id)
            self.store.set_watermark(self.name, self.store.pruned_upto())
        for applied, (seq, doc_id, _op) in enumerate(self.store.changes_after(self.store.watermark(self.name))):
            self.passages[doc_id] = {p.id for p in self.store.passages_of(doc_id)}
            if not self.passages[doc_id]:
                del self.passages[doc_id]
            if crash_after is not None and applied + 1 >= crash_after:
                return  # the process dies before recording its watermark
            self.store.set_watermark(self.name, seq)

    def truth(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for seq_passage in self.store.iter_passages(batch=5):
            out.setdefault(seq_passage[1].document_id, set()).add(seq_passage[1].id)
        return out


_WRITER = """
import sys
from bedside.ingest import chunk
from bedside.ingest.builder import TextBuilder
from bedside.model import Document, DocumentId
from bedside.store import open_knowledge_store

store = open_knowledge_store(sys.argv[1])
i = 0
while True:
    docs = []
    for j in range(3):
        b = TextBuilder()
        b.heading("Section")
        for k in range(4):
            b.paragraph(f"Batch {i} document {j} paragraph {k} about iron deficiency and ferritin. " * 20)
        text, blocks = b.build()
        docs.append(Document(id=DocumentId(f"w{(i * 3 + j) % 40}"), title="t", text=text, blocks=blocks))
    store.write([(d, chunk(d)) for d in docs])
    if i % 5 == 4:
        try:
            store.remove(f"w{(i * 7) % 40}")
        except Exception:
            pass
    print(i, flush=True)
    i += 1
"""

_LOCKER = """
import sys, time
from bedside.store import open_knowledge_store

store = open_knowledge_store(sys.argv[1])
with store.indexer_lock("dense"):
    print("held", flush=True)
    time.sleep(600)
"""


def _python(script: str, location: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-c", script, location], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def _kill(process: subprocess.Popen[str]) -> None:
    """Kill a child at once (no cleanup of its own runs) and collect its pipes."""
    process.send_signal(signal.SIGKILL)
    process.communicate()


class KnowledgeStoreContract:
    """Behaviour every knowledge store keeps (see bedside.store.knowledge_store)."""

    @pytest.fixture
    def location(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def store(self, location: str) -> Iterator[KnowledgeStore]:
        s = open_knowledge_store(location)
        yield s
        s.close()

    # -- documents ------------------------------------------------------------------------------------------------

    def test_round_trip_keeps_every_field(self, store: KnowledgeStore) -> None:
        doc = _doc(
            "pmid-1",
            "Ferritin below 30 ug/L indicates iron deficiency.",
            evidence_type=EvidenceType.GUIDELINE,
            source="Gut",
            year=2021,
            authors=("Snook J",),
            doi="10.1/x",
            issuer="BSG",
            reviewed=False,
            topics=("IDA",),
            extra=(("k", "v"),),
            flags=("dropped 1 hidden text fragment",),
        )
        _put(store, doc)
        assert store.document("pmid-1") == doc
        assert store.hashes(["pmid-1", "nope"]) == {"pmid-1": doc.content_hash}
        [p] = store.passages_of("pmid-1")
        assert doc.text[p.start : p.end] == p.text
        assert store.passages([p.id]) == {p.id: p}
        [seq] = store.seqs_of(["pmid-1"])
        assert store.passages_by_seq([seq]) == {seq: p}
        head = store.document_heads(["pmid-1", "nope"])["pmid-1"]
        assert head.text == "" and head.blocks == () and head.title == doc.title and head.year == 2021
        assert store.documents(["pmid-1", "nope"]) == {"pmid-1": doc}

    # -- corrections, notices, newer versions and collections ----------------------------------------------------

    def test_corrections_and_collection_round_trip(self, store: KnowledgeStore, fixtures: Path) -> None:
        docs = {d.id: d for d in read_path(fixtures / "medline" / "retractions.xml")}
        cohort = replace(docs["91000003"], collection="local-protocols")
        _put(store, *docs.values(), cohort)
        back = store.document("91000003")
        assert back.collection == "local-protocols" and back.content_hash == cohort.content_hash
        assert [c for c in back.corrections if not c.inbound] == list(cohort.corrections)
        assert store.hashes(["91000003"]) == {"91000003": cohort.content_hash}
        assert store.document("91000001").retracted
        assert store.document("91000002").notice == "retraction notice"
        assert store.collections() == {"": 5, "local-protocols": 1}
        assert store.collection_names() == ["local-protocols"]

    def test_a_retraction_notice_stored_later_retracts_its_article(
        self, store: KnowledgeStore, location: str, fixtures: Path
    ) -> None:
        [trial] = read_path(fixtures / "medline" / "unflagged_trial.xml")
        _put(store, trial)
        assert not store.document("91000007").retracted
        [notice] = read_path(fixtures / "medline" / "retraction_notice.xml")
        _put(store, notice)
        other = open_knowledge_store(location)  # every connection sees it
        try:
            for read in (
                store.document("91000007"),
                store.documents(["91000007"])["91000007"],
                store.document_heads(["91000007"])["91000007"],
                other.document("91000007"),
            ):
                assert read.retracted
                [link] = read.corrections
                assert link.kind is CorrectionKind.RETRACTION_IN and link.pmid == "91000008" and link.inbound
                assert link.source == "Journal of Example Respiratory Medicine, 2023"
        finally:
            other.close()
        assert store.document("91000007").content_hash == trial.content_hash  # the article's own record unchanged
        assert not store.document("91000008").retracted  # a notice does not retract itself
        assert (store.stats()["retracted"], store.stats()["notices"]) == (1, 1)
        _put(store, trial)  # re-writing the article keeps the notice's word on it
        assert store.document("91000007").retracted
        store.remove("91000008")
        assert not store.document("91000007").retracted and store.document("91000007").corrections == ()
        assert (store.stats()["retracted"], store.stats()["notices"]) == (0, 0)

    def test_a_notice_rewritten_without_its_link_no_longer_retracts(
        self, store: KnowledgeStore, fixtures: Path
    ) -> None:
        [trial] = read_path(fixtures / "medline" / "unflagged_trial.xml")
        [notice] = read_path(fixtures / "medline" / "retraction_notice.xml")
        _put(store, notice, trial)
        assert store.document("91000007").retracted
        _put(store, replace(notice, corrections=(), notice=""))
        assert not store.document("91000007").retracted and store.stats()["notices"] == 0

    def test_newer_versions_of_a_guideline(self, store: KnowledgeStore) -> None:
        def edition(doc_id: str, year: int, **kw: object) -> Document:
            return _doc(doc_id, "Text.", evidence_type=EvidenceType.GUIDELINE, year=year, **kw)

        old = replace(edition("g2019", 2019), title="Anaemia guideline")
        same = replace(edition("g2023", 2023), title="Anaemia guideline")
        newest = replace(edition("g2024", 2024), title="Anaemia guideline")
        withdrawn = replace(edition("g2025", 2025), title="Anaemia guideline", retracted=True)
        digest = _doc("digest", "Summary.", year=2020, guideline="Anaemia guideline")
        later_digest = _doc("digest-2", "Summary.", year=2022, guideline="Anaemia guideline")
        other = replace(edition("h2024", 2024), title="Another guideline")
        _put(store, old, same, newest, withdrawn, digest, later_digest, other)
        assert [v.document_id for v in store.newer_versions(old)] == ["g2024", "g2023"]
        assert [(v.title, v.year) for v in store.newer_versions(old)] == [
            ("Anaemia guideline", 2024),
            ("Anaemia guideline", 2023),
        ]
        assert [v.document_id for v in store.newer_versions(digest)] == ["digest-2"]
        assert store.newer_versions(newest) == []
        assert store.newer_versions(replace(old, year=None)) == []
        assert store.newer_versions(_doc("research", "Text.", year=2000)) == []

    def test_replace_is_atomic_for_a_concurrent_reader(self, store: KnowledgeStore, location: str) -> None:
        """A reader on another connection sees the old passages or the new ones, never none and never a mix."""
        versions = [_long("x", 3, "alpha"), _long("x", 6, "beta")]
        _put(store, versions[0])
        expected = {v.content_hash: {p.text for p in chunk(v)} for v in versions}
        seen: list[str] = []
        stop = threading.Event()

        def read() -> None:
            reader = open_knowledge_store(location)
            try:
                while not stop.is_set():
                    texts = {p.text for p in reader.passages_of("x")}
                    seen.append("ok" if texts in expected.values() else f"torn: {len(texts)} passages")
            finally:
                reader.close()

        thread = threading.Thread(target=read)
        thread.start()
        try:
            i = 0
            while i < 30 or (len(seen) < 50 and i < 3000):  # until the reader has read often while we wrote
                _put(store, versions[(i + 1) % 2])
                i += 1
            if i % 2:
                _put(store, versions[0])
        finally:
            stop.set()
            thread.join()
        assert seen and set(seen) == {"ok"}
        assert {p.text for p in store.passages_of("x")} == expected[versions[0].content_hash]

    def test_a_failed_write_leaves_nothing_behind(self, store: KnowledgeStore) -> None:
        good = _doc("good", "Kept text.")
        _put(store, good)
        bad = _doc("bad", "Never stored.")
        with pytest.raises(Exception):  # noqa: B017 - each backend raises its driver's integrity error
            store.write([(bad, chunk(bad) + chunk(good))])  # a passage id that already exists

        def items():
            yield _doc("half", "Written first."), chunk(_doc("half", "Written first."))
            raise RuntimeError("the reader failed part-way")

        with pytest.raises(RuntimeError):
            store.write(items())
        assert store.counts() == (1, 1)
        assert store.hashes(["bad", "half"]) == {}
        assert [d for _, d, _ in store.changes_after(0)] == ["good"]
        assert store.check_integrity() == []

    def test_a_nul_character_is_refused_naming_the_document_and_field(self, store: KnowledgeStore) -> None:
        """PostgreSQL text cannot hold U+0000, so no store takes it (a knowledge base stays movable between them): the
        batch is refused whole, naming the document's origin, its id and the field."""
        good = _doc("good", "Kept text.")
        bad = replace(_doc("bad", "Fine text."), title="Ferritin\x00 levels", origin="feed.jsonl:2")
        with pytest.raises(InvalidInput, match=r"^feed\.jsonl:2: document 'bad': field 'title' contains a NUL"):
            _put(store, good, bad)
        with pytest.raises(InvalidInput, match="document 'bad': field 'text' contains a NUL"):
            _put(store, _doc("bad", "Ferritin\x00 below 30 ug/L."))
        with pytest.raises(InvalidInput, match="field 'extra' contains a NUL"):
            _put(store, replace(good, extra=(("note", "a\x00b"),)))
        assert store.counts() == (0, 0) and store.changes_after(0) == []
        _put(store, good)
        assert store.counts() == (1, 1)

    def test_remove_and_its_change(self, store: KnowledgeStore) -> None:
        _put(store, _doc("a", "First."), _doc("b", "Second."))
        store.remove("a")
        assert store.counts() == (1, 1)
        assert [(d, op) for _, d, op in store.changes_after(0)] == [("a", "upsert"), ("b", "upsert"), ("a", "remove")]
        with pytest.raises(NotFound):
            store.remove("a")
        with pytest.raises(NotFound):
            store.document("a")

    def test_listing_stats_and_checks(self, store: KnowledgeStore) -> None:
        docs = [
            _doc("d2", "Text two.", evidence_type=EvidenceType.GUIDELINE, source="NICE", origin="/kb/guides/a.md"),
            _doc("D1", "Text one.", evidence_type=EvidenceType.GUIDELINE, source="NICE", origin="/kb/guides/b.md"),
            _doc("d3", "Text three.", evidence_type=EvidenceType.RESEARCH, origin="/kb/other.md"),
        ]
        _put(store, *docs)
        assert store.document_ids() == ["D1", "d2", "d3"]  # byte order on every backend
        assert store.document_ids(origin_prefix="/kb/guides/") == ["D1", "d2"]
        stats = store.stats()
        assert stats["documents"] == 3 and stats["passages"] == 3
        assert stats["by_type"] == {"guideline": 2, "research": 1}
        assert stats["by_source"] == {"NICE": 2, "(unknown)": 1}
        assert store.check_integrity() == [] and store.span_mismatches() == []
        assert store.seqs() == sorted(store.seqs_of(["D1", "d2", "d3"]))
        store.set_meta("starter_kb", '{"ids": []}')
        assert store.get_meta("starter_kb") == '{"ids": []}' and store.get_meta("missing") is None

    def test_index_rows_stream_in_sequence_order(self, store: KnowledgeStore) -> None:
        docs = [_long(f"s{i}", 2 + i % 3, f"tag{i}") for i in range(8)]
        _put(store, *docs)
        streamed = [row for part in store.stream_index_rows(batch=4) for row in part]
        assert [r.seq for r in streamed] == store.seqs()
        assert all(len(part) <= 4 for part in store.stream_index_rows(batch=4))
        assert streamed == store.index_rows(None)
        chosen = store.index_rows(["s3", "s1"])
        assert [r.seq for r in chosen] == sorted(store.seqs_of(["s1", "s3"]))
        assert {r.document_id for r in chosen} == {"s1", "s3"} and chosen[0].title == "Title s1"

    # -- the change log and watermarks --------------------------------------------------------------------------

    def test_watermarks_are_kept_per_index_and_seen_by_every_connection(
        self, store: KnowledgeStore, location: str
    ) -> None:
        assert store.watermark("lexical") == 0 and store.watermarks() == {}
        store.set_watermark("lexical", 5)
        store.set_watermark("dense", 3)
        store.set_watermark("lexical", 7)
        other = open_knowledge_store(location)
        try:
            assert other.watermark("lexical") == 7 and other.watermark("dense") == 3
            assert other.watermarks() == {"dense": 3, "lexical": 7}
        finally:
            other.close()

    def test_pruning_keeps_the_newest_number(self, store: KnowledgeStore) -> None:
        _put(store, _doc("a", "One."))
        _put(store, _doc("b", "Two."))
        last = store.last_change()
        assert last == store.changes_after(0)[-1][0]
        store.prune_changes(last)
        assert store.changes_after(0) == [] and store.pruned_upto() == last and store.last_change() == last
        store.prune_changes(last - 1)  # never moves back
        assert store.pruned_upto() == last
        _put(store, _doc("c", "Three."))
        assert store.last_change() > last

    def test_an_index_that_crashed_replays_the_log_from_its_watermark(self, store: KnowledgeStore) -> None:
        index = _FollowingIndex(store)
        _put(store, *(_doc(f"d{i}", f"Passage {i}.") for i in range(5)))
        index.sync()
        _put(store, _doc("d1", "Changed."), _doc("d9", "New."))
        store.remove("d2")
        index.sync(crash_after=2)  # applied two changes, recorded none of them
        assert store.watermark("toy") < store.last_change()
        restarted = _FollowingIndex(store)
        restarted.passages = index.passages
        restarted.sync()
        assert restarted.passages == restarted.truth()
        assert store.watermark("toy") == store.last_change()
        store.prune_changes(store.last_change())
        late = _FollowingIndex(store, "late")  # added after the log was pruned: rebuilds from the documents
        late.sync()
        assert late.passages == late.truth()

    def test_the_log_replays_after_a_writer_is_killed(self, store: KnowledgeStore, location: str) -> None:
        writer = _python(_WRITER, location)
        try:
            assert writer.stdout is not None
            for _ in range(12):
                line = writer.stdout.readline()
                assert line, writer.stderr.read() if writer.stderr else "writer ended"
        finally:
            _kill(writer)
        reopened = open_knowledge_store(location)
        try:
            assert reopened.check_integrity() == [] and reopened.span_mismatches() == []
            index = _FollowingIndex(reopened)
            index.sync()
            assert index.passages == index.truth() and index.passages
            changed = {d for _, d, _ in reopened.changes_after(0)}
            assert set(reopened.document_ids()) <= changed
        finally:
            reopened.close()

    def test_two_concurrent_writers_lose_no_change(self, store: KnowledgeStore, location: str) -> None:
        """Two writers on their own connections, and a follower that polls the log while they write: the follower
        ends with every document, and never sees a change number appear below one it already passed."""
        per_writer = 40
        errors: list[BaseException] = []
        done = threading.Event()

        def write(name: str) -> None:
            own = open_knowledge_store(location)
            try:
                for i in range(per_writer):
                    _put(own, _doc(f"{name}-{i}", f"{name} passage {i}."), _doc(f"shared-{i % 5}", f"{name} {i}."))
                    if i % 10 == 9:
                        own.remove(f"{name}-{i - 5}")
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                own.close()

        follower = open_knowledge_store(location)
        late: list[int] = []

        def follow() -> None:
            mark = 0
            seen: set[int] = set()
            while True:
                finished = done.is_set()
                for seq, _, _ in follower.changes_after(mark):
                    seen.add(seq)
                    mark = max(mark, seq)
                if finished:
                    break
                time.sleep(0.001)
            every = {seq for seq, _, _ in follower.changes_after(0)}
            late.extend(sorted(every - seen))  # committed below the mark after the follower had passed it

        writers = [threading.Thread(target=write, args=(n,)) for n in ("a", "b")]
        watcher = threading.Thread(target=follow)
        watcher.start()
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        done.set()
        watcher.join()
        follower.close()
        assert errors == []
        assert late == []
        changes = store.changes_after(0)
        assert len(changes) == 2 * (per_writer * 2 + per_writer // 10)
        assert [s for s, _, _ in changes] == sorted(s for s, _, _ in changes)
        expected = {f"{n}-{i}" for n in "ab" for i in range(per_writer) if i % 10 != 4} | {
            f"shared-{i}" for i in range(5)
        }
        assert set(store.document_ids()) == expected
        assert store.check_integrity() == []

    # -- one indexer per index ----------------------------------------------------------------------------------

    def test_one_indexer_per_index_at_a_time(self, store: KnowledgeStore, location: str) -> None:
        order: list[str] = []
        held = threading.Event()
        release = threading.Event()

        def first() -> None:
            with store.indexer_lock("lexical"):
                order.append("first in")
                held.set()
                release.wait(10)
                order.append("first out")

        def second() -> None:
            other = open_knowledge_store(location)
            try:
                with other.indexer_lock("lexical"):
                    order.append("second in")
            finally:
                other.close()

        a = threading.Thread(target=first)
        a.start()
        held.wait(10)
        b = threading.Thread(target=second)
        b.start()
        b.join(0.5)
        assert b.is_alive(), "the second indexer did not wait"
        with store.indexer_lock("dense"):  # another index's lock is free meanwhile
            order.append("dense")
        release.set()
        a.join()
        b.join(10)
        assert order == ["first in", "dense", "first out", "second in"]

    def test_a_killed_indexer_releases_its_lock(self, store: KnowledgeStore, location: str) -> None:
        locker = _python(_LOCKER, location)
        try:
            assert locker.stdout is not None
            assert locker.stdout.readline().strip() == "held", locker.stderr.read() if locker.stderr else ""
        finally:
            _kill(locker)
        got = threading.Event()

        def take() -> None:
            with store.indexer_lock("dense"):
                got.set()

        t = threading.Thread(target=take, daemon=True)
        t.start()
        assert got.wait(15), "the lock outlived the process that held it"

    # -- schema -------------------------------------------------------------------------------------------------

    def test_migrates_from_empty_and_reopens(self, location: str) -> None:
        stores: list[KnowledgeStore] = []
        errors: list[BaseException] = []

        def open_one() -> None:
            try:
                stores.append(open_knowledge_store(location))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(3)]  # first opens race to create the schema
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            assert errors == [] and len(stores) == 3
            assert stores[0].counts() == (0, 0) and stores[0].last_change() == 0
            _put(stores[1], _doc("a", "Text."))
            assert stores[2].document("a").title == "Title a"
        finally:
            for s in stores:
                s.close()
        again = open_knowledge_store(location)
        try:
            assert again.counts() == (1, 1)
        finally:
            again.close()

    def test_refuses_a_newer_schema(self, store: KnowledgeStore, location: str) -> None:
        store.set_meta("schema_version", "999")
        with pytest.raises(RuntimeError, match="newer bedside"):
            open_knowledge_store(location)


class TestSqliteKnowledgeStore(KnowledgeStoreContract):
    @pytest.fixture
    def location(self, tmp_path: Path) -> str:
        return str(tmp_path / "data" / "knowledge.sqlite")

    def test_schema_2_gains_the_watermark_table(self, location: str) -> None:
        import sqlite3

        open_knowledge_store(location).close()
        db = sqlite3.connect(location)
        db.execute("DROP TABLE index_state")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        db.commit()
        db.close()
        store = open_knowledge_store(location)
        try:
            assert store.get_meta("schema_version") == "4"
            store.set_watermark("lexical", 4)
            assert store.watermarks() == {"lexical": 4}
        finally:
            store.close()

    def test_sqlite_urls_name_the_file(self, tmp_path: Path) -> None:
        store = open_knowledge_store(f"sqlite:///{tmp_path / 'k.sqlite'}")
        try:
            assert store.location == str(tmp_path / "k.sqlite")
        finally:
            store.close()


class TestPostgresKnowledgeStore(KnowledgeStoreContract):
    @pytest.fixture
    def location(self, postgres_url: str) -> str:
        return postgres_url

    def test_location_hides_the_password(self) -> None:
        from bedside.store.kb_postgres import _display

        assert _display("postgresql+psycopg://bedside:secret@db.example.org:5433/kb?sslmode=require") == (
            "postgresql://bedside@db.example.org:5433/kb"
        )

    def test_schema_1_gains_the_correction_columns(self, location: str, fixtures: Path) -> None:
        import psycopg

        from bedside.store.kb_postgres import _conninfo

        open_knowledge_store(location).close()
        with psycopg.connect(_conninfo(location), autocommit=True) as db:
            db.execute("DROP TABLE notices")
            for column in ("corrections", "retracted", "notice", "collection"):
                db.execute(f"ALTER TABLE documents DROP COLUMN {column}")
            db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        store = open_knowledge_store(location)
        try:
            assert store.get_meta("schema_version") == "2"
            [trial] = read_path(fixtures / "medline" / "unflagged_trial.xml")
            [notice] = read_path(fixtures / "medline" / "retraction_notice.xml")
            _put(store, replace(trial, collection="ward-protocols"), notice)
            assert store.document("91000007").retracted and store.collection_names() == ["ward-protocols"]
        finally:
            store.close()

    def test_an_unreachable_server_is_a_clear_error(self) -> None:
        from bedside.errors import BackendUnavailable

        with pytest.raises(BackendUnavailable, match="cannot reach the knowledge database postgresql://nobody@127"):
            open_knowledge_store("postgresql://nobody:pw@127.0.0.1:9/none?connect_timeout=2")
