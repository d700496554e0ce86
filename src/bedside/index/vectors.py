"""Dense passage vectors: durable in SQLite, searched from a memory-mapped NumPy snapshot.

SQLite (`<dir>/vectors.sqlite`) is the source of truth: a sync writes a chunk's vectors and the watermark in one
transaction, so a crash never leaves vectors and watermark disagreeing. Searching uses a snapshot of the matrix
(`snapshot-<watermark>.npy` plus metadata, `snapshot.py`) rebuilt after changes (`snapshot_build.py`). Up to
EXACT_LIMIT vectors the scan is exact; beyond, a proximity graph (HNSW, `graph.py`, with faiss) keeps queries fast.
Vectors are looked up by passage-text hash first, so unchanged passages of an updated document, and passages
whose vectors ship with the starter knowledge base, are never embedded twice.
Each row also keeps its document title's analysed terms (as 64-bit hashes), so the snapshot can score a candidate's
title focus in memory and search reads only its final hits from the knowledge store.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from bedside.index import graph, snapshot_build
from bedside.index.graph import GraphIndex
from bedside.index.protocols import Candidate, ChangeSource, Embedder, Filters, SyncProgress, SyncReport
from bedside.index.snapshot import ETYPES, Snapshot, read_meta, term_key, title_terms, write_meta
from bedside.index.snapshot_build import SnapshotBuilder
from bedside.model import EvidenceType, IndexRow
from bedside.store.locks import file_lock
from bedside.store.sqlite import Schema, add_missing_columns, open_database, run_step, transaction
from bedside.text.analysis import fingerprint

__all__ = ["Snapshot", "VectorIndex", "term_key", "text_hash", "title_terms"]

REFRESH_RETRY_S = 30.0  # after a failed background refresh, searches wait this long before starting another
_CHUNK_DOCUMENTS = 2_000
EMBED_BATCH = 512  # passages embedded, then committed, at a time
log = logging.getLogger(__name__)

# `pending`: vectors embedded for a chunk of changes not yet written, committed batch by batch so that a huge
# document is never one all-or-nothing step; an interrupted sync finds them there and embeds only the rest.
_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vectors (seq INTEGER PRIMARY KEY, document_id TEXT NOT NULL, text_hash TEXT NOT NULL,
    etype INTEGER NOT NULL, year INTEGER NOT NULL, source TEXT NOT NULL, vec BLOB NOT NULL, title_terms BLOB);
CREATE INDEX IF NOT EXISTS vectors_document ON vectors(document_id);
CREATE TABLE IF NOT EXISTS pending (text_hash TEXT PRIMARY KEY, vec BLOB NOT NULL)
"""


def _adopt(db: sqlite3.Connection) -> None:
    """A file from before versioning: one without title terms gets the column, and the next sync records them."""
    run_step(db, _TABLES)
    if add_missing_columns(db, "vectors", [("title_terms", "BLOB")]):
        db.execute("INSERT OR REPLACE INTO meta VALUES ('titles', 'pending')")


VECTORS_SCHEMA = Schema("vector index", (_TABLES,), adopt=_adopt)


def text_hash(text: str) -> str:
    """The key under which a passage's vector is cached."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class VectorIndex:
    """The embedded dense index in `<data_dir>/vectors`."""

    name = "dense"

    def __init__(self, path: Path, embedder: Embedder, seed: Mapping[str, np.ndarray] | None = None) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.embedder = embedder
        self.seed = seed if seed is not None else {}
        self._db = open_database(path / "vectors.sqlite", VECTORS_SCHEMA)
        self._builder = SnapshotBuilder(self._db, path, embedder, lambda: self._meta("titles") == "complete")
        if self._meta("titles") is None:  # a new file, or one from before title terms were tracked
            empty = self._db.execute("SELECT 1 FROM vectors LIMIT 1").fetchone() is None
            self._set_meta("titles", "complete" if empty else "pending")
        analysis, analysed_by = fingerprint(), self._meta("analysis")  # what made the rows' title terms
        if analysed_by is None:  # rows from before this was recorded: made by the analysis that first shipped
            self._set_meta("analysis", analysis)
        elif analysed_by != analysis:  # made another way: the next sync records them again
            with transaction(self._db):
                self._db.execute("UPDATE vectors SET title_terms = NULL")
                self._set_meta("titles", "pending")
                self._set_meta("analysis", analysis)
        model = self._meta("model")
        if model is None:
            self._set_meta("model", embedder.name)
        elif model != embedder.name:
            self._reset(embedder.name)  # vectors of another model are meaningless here
        self._current: tuple[int, Snapshot] | None = None  # (watermark, snapshot), swapped as one
        # A long-running server sets this: after a change, searches keep using the previous snapshot while a
        # background thread builds or loads the new one, instead of waiting for it (tens of seconds at 1M passages).
        self.refresh_in_background = False
        self.refresh_error: BaseException | None = None  # why the last background refresh failed, if it did
        self._refresher: threading.Thread | None = None
        self._refresh_lock = threading.Lock()
        self._retry_at = 0.0

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def _reset(self, model: str) -> None:
        """Forget every vector (they belong to another model), and the snapshots made of them."""
        with file_lock(self.path / "snapshot.lock"):
            for old in self.path.glob("snapshot-*"):
                old.unlink(missing_ok=True)
        self._current = None
        with transaction(self._db):
            self._db.execute("DELETE FROM vectors")
            self._db.execute("DELETE FROM pending")
            self._set_meta("model", model)
            self._set_meta("watermark", "0")

    def watermark(self) -> int:
        """The last store change whose vectors are committed."""
        return int(self._meta("watermark") or 0)

    # -- writing -------------------------------------------------------------------------------

    def sync(self, source: ChangeSource, progress: SyncProgress | None = None) -> SyncReport:
        """Embed and store the passages of every document changed since the watermark."""
        report = SyncReport()
        self._fill_titles(source, progress)
        if self.watermark() < source.pruned_upto():
            self._rebuild(source, report, progress)
        changes = source.changes_after(self.watermark())
        if not changes:
            return report
        total = len(changes)
        embedded = 0
        for start in range(0, total, _CHUNK_DOCUMENTS):
            part = changes[start : start + _CHUNK_DOCUMENTS]
            doc_ids = list(dict.fromkeys(d for _, d, _ in part))
            rows = source.index_rows(doc_ids)
            vecs, fresh = self._vectors_for(rows, doc_ids)
            embedded += fresh
            self._write(doc_ids, rows, vecs, part[-1][0])
            report.documents += len(doc_ids)
            report.added += len(rows)
            if progress:
                progress(start + len(part), total)
        report.extras["embedded"] = embedded
        return report

    def _rebuild(self, source: ChangeSource, report: SyncReport, progress: SyncProgress | None) -> None:
        """Embed every stored document (reusing vectors already held): the change log no longer has them all.

        The watermark moves only at the end, so a crash part-way repeats the rebuild (cheaply: vectors are reused).
        """
        mark = self.watermark()
        doc_ids = source.document_ids()
        for start in range(0, len(doc_ids), _CHUNK_DOCUMENTS):
            part = doc_ids[start : start + _CHUNK_DOCUMENTS]
            rows = source.index_rows(part)
            vecs, fresh = self._vectors_for(rows, part)
            self._write(part, rows, vecs, mark)
            report.added += len(rows)
            report.extras["embedded"] = report.extras.get("embedded", 0) + fresh
            if progress:
                progress(start + len(part), len(doc_ids))
        keep = set(doc_ids)
        stale = [d for (d,) in self._db.execute("SELECT DISTINCT document_id FROM vectors") if d not in keep]
        self._write(stale, [], np.zeros((0, self.embedder.dim), dtype=np.float32), source.pruned_upto())

    def _fill_titles(self, source: ChangeSource, progress: SyncProgress | None) -> None:
        """Record the title terms of rows written before vectors kept them (a one-time upgrade)."""
        if self._meta("titles") != "pending":
            return
        doc_ids = [d for (d,) in self._db.execute("SELECT DISTINCT document_id FROM vectors WHERE title_terms IS NULL")]
        for start in range(0, len(doc_ids), _CHUNK_DOCUMENTS):
            part = doc_ids[start : start + _CHUNK_DOCUMENTS]
            titles = {r.document_id: r.title for r in source.index_rows(part)}
            with transaction(self._db):
                self._db.executemany(
                    "UPDATE vectors SET title_terms = ? WHERE document_id = ? AND title_terms IS NULL",
                    [(title_terms(title), d) for d, title in titles.items()],
                )
            if progress:
                progress(start + len(part), len(doc_ids))
        self._set_meta("titles", "complete")  # rows of documents the store no longer has stay without: harmless
        self._current = None  # reopened on the next search, which then adds the title arrays

    def _vectors_for(self, rows: list[IndexRow], doc_ids: list[str]) -> tuple[np.ndarray, int]:
        known: dict[str, np.ndarray] = {}
        for i in range(0, len(doc_ids), 500):
            part = doc_ids[i : i + 500]
            marks = ",".join("?" * len(part))
            # Safe to format: only "?" marks go into the SQL, never values.
            sql = f"SELECT text_hash, vec FROM vectors WHERE document_id IN ({marks})"  # nosec B608
            for h, blob in self._db.execute(sql, part):
                known[h] = np.frombuffer(blob, dtype=np.float32)
        hashes = [text_hash(r.embedding_text) for r in rows]
        wanted = sorted({h for h in hashes if h not in known and h not in self.seed})
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            # Safe to format: only "?" marks go into the SQL, never values.
            sql = f"SELECT text_hash, vec FROM pending WHERE text_hash IN ({','.join('?' * len(part))})"  # nosec B608
            for h, blob in self._db.execute(sql, part):
                known[h] = np.frombuffer(blob, dtype=np.float32)
        missing = list({h: i for i, h in enumerate(hashes) if h not in known and h not in self.seed}.values())
        for start in range(0, len(missing), EMBED_BATCH):
            batch = missing[start : start + EMBED_BATCH]
            vecs = self.embedder.embed([rows[i].embedding_text for i in batch])
            with transaction(self._db):
                self._db.executemany(
                    "INSERT OR REPLACE INTO pending VALUES (?, ?)",
                    [(hashes[i], vec.astype(np.float32).tobytes()) for i, vec in zip(batch, vecs, strict=True)],
                )
            known.update((hashes[i], vec) for i, vec in zip(batch, vecs, strict=True))
        out = np.zeros((len(rows), self.embedder.dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = known[h] if h in known else self.seed[h]
        return out, len(missing)

    def _write(self, doc_ids: list[str], rows: list[IndexRow], vecs: np.ndarray, mark: int) -> None:
        with transaction(self._db):
            for i in range(0, len(doc_ids), 500):
                part = doc_ids[i : i + 500]
                marks = ",".join("?" * len(part))
                # Safe to format: only "?" marks go into the SQL, never values.
                self._db.execute(f"DELETE FROM vectors WHERE document_id IN ({marks})", part)  # nosec B608
            terms = {r.document_id: title_terms(r.title) for r in rows}
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (seq, document_id, text_hash, etype, year, source, vec, title_terms)"
                " VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        r.seq,
                        r.document_id,
                        text_hash(r.embedding_text),
                        ETYPES.index(r.evidence_type),
                        r.year or 0,
                        r.source.lower(),
                        vecs[i].tobytes(),
                        terms[r.document_id],
                    )
                    for i, r in enumerate(rows)
                ],
            )
            self._set_meta("watermark", str(mark))
            self._db.execute("DELETE FROM pending")  # every pending vector belongs to this chunk, now written

    # -- reading -------------------------------------------------------------------------------

    def seqs(self) -> list[int]:
        """Every searchable passage's sequence number, ascending, repeats kept (for integrity checks): those of
        the snapshot that searches read."""
        return sorted(int(s) for s in self.snapshot().seqs)

    def snapshot(self) -> Snapshot:
        """The current matrix, loaded from the snapshot file or rebuilt from SQLite. With `refresh_in_background`,
        a snapshot that is out of date is still returned while a background thread brings in the current one."""
        mark = self.watermark()
        current = self._current
        if current is not None and current[0] == mark:
            return current[1]
        if current is not None and self.refresh_in_background:
            self._start_refresh()
            return current[1]
        snap = self._open_snapshot(mark)
        self._current = (mark, snap)
        return snap

    def prepare(self) -> None:
        """Bring the snapshot up to date now, building it if no one has yet (whatever `refresh_in_background` says),
        so that the next search does not wait for it."""
        mark = self.watermark()
        current = self._current
        if current is None or current[0] != mark:
            self._current = (mark, self._open_snapshot(mark))

    def _start_refresh(self) -> None:
        with self._refresh_lock:
            running = self._refresher is not None and self._refresher.is_alive()
            if not running and time.monotonic() >= self._retry_at:
                self._refresher = threading.Thread(target=self._refresh, name="bedside-vector-snapshot", daemon=True)
                self._refresher.start()

    def _refresh(self) -> None:
        """Build or load the current snapshot on a connection of its own, then swap it in."""
        try:
            reader = VectorIndex(self.path, self.embedder, self.seed)
            try:
                mark = reader.watermark()
                snap = reader._open_snapshot(mark)
            finally:
                reader.close()
            self._current = (mark, snap)
            self.refresh_error = None
        except Exception as exc:  # searches go on with the previous snapshot; a later one tries again
            self.refresh_error = exc
            self._retry_at = time.monotonic() + REFRESH_RETRY_S
            log.exception("refreshing the vector snapshot in %s failed", self.path)

    def _open_snapshot(self, mark: int) -> Snapshot:
        meta_file = self.path / f"snapshot-{mark}.npz"
        matrix_file = self.path / f"snapshot-{mark}.npy"
        graph_file = self.path / f"snapshot-{mark}.hnsw"
        # One process or thread at a time builds or opens snapshots here: a build removes older snapshot files,
        # which must not vanish while another is still building or opening them.
        with file_lock(self.path / "snapshot.lock"):
            built = None  # the graph just built, already in memory
            if not (meta_file.exists() and matrix_file.exists()):
                built = self._builder.build(meta_file, matrix_file, graph_file)
            fields = read_meta(meta_file)
            lost = "graph_seqs" in fields and not graph_file.exists()  # lost after the snapshot was written
            if lost or not self._same_model(fields, matrix_file):
                meta_file.unlink()
                built = self._builder.build(meta_file, matrix_file, graph_file)
                fields = read_meta(meta_file)
            if "model" not in fields:  # written before snapshots named their model, and checked just now
                fields = {**fields, "model": np.array(self.embedder.name)}
                write_meta(meta_file, fields)
            analysis = fingerprint()
            if str(fields.get("analysis", analysis)) != analysis:  # title terms made by another analysis
                fields = {k: v for k, v in fields.items() if not k.startswith("title_")}
            if "title_len" not in fields:  # written before rows kept their title terms, or dropped just now
                fields = self._builder.add_titles(meta_file, fields)
            loaded = (built or GraphIndex.load(graph_file)) if "graph_seqs" in fields else None
            return Snapshot(np.load(matrix_file, mmap_mode="r"), fields, loaded)

    def _same_model(self, fields: Mapping[str, np.ndarray], matrix_file: Path) -> bool:
        """Whether a snapshot holds this index's model's vectors. Snapshots name their model; an older one that does
        not is checked against the stored vector of its first row. (A data directory reopened with another model of
        the same dimension re-embeds everything at the same watermark, so the file name alone proves nothing.)"""
        if "model" in fields:
            return str(fields["model"]) == self.embedder.name
        matrix = np.load(matrix_file, mmap_mode="r")
        if matrix.ndim != 2 or matrix.shape[1] != self.embedder.dim:
            return False
        if len(matrix) == 0:
            return True
        row = self._db.execute("SELECT vec FROM vectors WHERE seq = ?", (int(fields["seqs"][0]),)).fetchone()
        return row is None or np.array_equal(np.frombuffer(row[0], dtype=np.float32), matrix[0])

    def search(self, query: str, limit: int = 100, filters: Filters | None = None) -> list[Candidate]:
        """Cosine similarity to the embedded query, best first."""
        snap = self.snapshot()
        if len(snap.seqs) == 0:
            return []
        q = self.embedder.embed_query(query)
        return self.search_vector(q, limit, filters)

    def search_vector(
        self, q: np.ndarray, limit: int = 100, filters: Filters | None = None, seqs: np.ndarray | None = None
    ) -> list[Candidate]:
        """Search with an already embedded query; `seqs` restricts the search to those passages."""
        return self.snapshot().search(q, limit, filters, seqs)

    def facts(self, seqs: Sequence[int]) -> dict[int, tuple[EvidenceType, int | None]]:
        """Evidence type and year of those of these passages that the snapshot holds, read from memory."""
        return self.snapshot().facts(seqs)

    def focus(self, seqs: Sequence[int], query_terms: Iterable[str]) -> dict[int, float]:
        """Title focus (the share of a document title's terms that the query mentions, as `hybrid.title_focus`)
        of those of these passages whose title terms the snapshot holds, read from memory."""
        return self.snapshot().focus(seqs, query_terms)

    def count(self) -> int:
        """Vectors stored."""
        return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def stats(self) -> dict[str, object]:
        """Vectors, model, bytes on disk and search mode."""
        size = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        n = self.count()
        mode = "hnsw" if n > snapshot_build.EXACT_LIMIT and graph.available() else "exact"
        return {"vectors": n, "model": self.embedder.name, "bytes": size, "mode": mode}
