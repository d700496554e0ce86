"""Dense passage vectors: durable in SQLite, searched from a memory-mapped NumPy snapshot.

SQLite (`<dir>/vectors.sqlite`) is the source of truth: a sync writes a chunk's vectors and the watermark in one
transaction, so a crash never leaves vectors and watermark disagreeing. Searching uses a snapshot of the matrix
(`snapshot-<watermark>.npy` plus metadata) rebuilt after changes. Up to EXACT_LIMIT vectors the scan is exact;
beyond, a proximity graph (HNSW, `graph.py`, when faiss is installed) or else an inverted-file index (k-means lists,
probing the closest lists) keeps queries fast.
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

from bedside.index import graph
from bedside.index.analysis import analyze, fingerprint
from bedside.index.embedder import Embedder
from bedside.index.graph import GraphIndex
from bedside.index.ivf import IvfIndex
from bedside.index.protocol import Candidate, ChangeSource, Filters, SyncProgress, SyncReport
from bedside.model import EvidenceType, IndexRow
from bedside.store.locks import file_lock

EXACT_LIMIT = 200_000
GRAPH_DEAD_SHARE = 0.2  # a graph whose removed nodes pass this share of its size is built afresh
REFRESH_RETRY_S = 30.0  # after a failed background refresh, searches wait this long before starting another
_CHUNK_DOCUMENTS = 2_000
EMBED_BATCH = 512  # passages embedded, then committed, at a time
_ETYPES = list(EvidenceType)
log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS vectors (seq INTEGER PRIMARY KEY, document_id TEXT NOT NULL, text_hash TEXT NOT NULL,"
    " etype INTEGER NOT NULL, year INTEGER NOT NULL, source TEXT NOT NULL, vec BLOB NOT NULL, title_terms BLOB)",
    "CREATE INDEX IF NOT EXISTS vectors_document ON vectors(document_id)",
    # Vectors embedded for a chunk of changes not yet written: committed batch by batch so that a huge document
    # is never one all-or-nothing step; an interrupted sync finds them here and embeds only the rest.
    "CREATE TABLE IF NOT EXISTS pending (text_hash TEXT PRIMARY KEY, vec BLOB NOT NULL)",
)


def text_hash(text: str) -> str:
    """The key under which a passage's vector is cached."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def term_key(term: str) -> int:
    """A stable 64-bit key for an analysed term (the same in every process)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def title_terms(title: str) -> bytes:
    """A title's distinct analysed terms as sorted 64-bit keys: what title focus needs of a document."""
    return np.array(sorted({term_key(t) for t in analyze(title)}), dtype=np.int64).tobytes()


def _row_key(seq: int, hashed: str) -> int:
    """One int64 per (passage seq, text hash): a seq reused by a different text gets another key."""
    return int.from_bytes(hashlib.blake2b(f"{seq}:{hashed}".encode(), digest_size=8).digest(), "little", signed=True)


def _mark_of(path: Path) -> int:
    try:
        return int(path.stem.split("-", 1)[1].split(".")[0])
    except (IndexError, ValueError):
        return -1


def _read_meta(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as meta:
        return {k: meta[k] for k in meta.files}


class _Snapshot:
    """The searchable matrix and per-row metadata at one watermark."""

    def __init__(self, vecs: np.ndarray, meta: Mapping[str, np.ndarray], graph: GraphIndex | None = None) -> None:
        self.vecs = vecs
        self.graph = graph
        self.seqs = meta["seqs"]
        self.etypes = meta["etypes"]
        self.years = meta["years"]
        self.sources = meta["sources"]
        self.ivf = IvfIndex(meta["centroids"], meta["offsets"], int(meta["nprobe"])) if "centroids" in meta else None
        # The graph's labels: the passage each node holds, and whether that passage is still there.
        self.graph_seqs = meta.get("graph_seqs")
        self.graph_live = meta.get("graph_live")
        self.dead = 0 if self.graph_live is None else int(len(self.graph_live) - self.graph_live.sum())
        # Each row's title terms: pool[start : start + length]; length -1 where the row has none recorded.
        self.title_start = meta.get("title_start")
        self.title_len = meta.get("title_len")
        self.title_pool = meta.get("title_pool")
        # Rows by seq for lookups: None when the rows are already in seq order (IVF permutes them).
        self.by_seq = None if np.all(self.seqs[1:] >= self.seqs[:-1]) else np.argsort(self.seqs, kind="stable")


class VectorIndex:
    """The embedded dense index in `<data_dir>/vectors`."""

    name = "dense"

    def __init__(self, path: Path, embedder: Embedder, seed: Mapping[str, np.ndarray] | None = None) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.embedder = embedder
        self.seed = seed if seed is not None else {}
        self._db = sqlite3.connect(path / "vectors.sqlite", timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        for statement in _SCHEMA:
            self._db.execute(statement)
        if "title_terms" not in {r[1] for r in self._db.execute("PRAGMA table_info(vectors)")}:
            self._db.execute("ALTER TABLE vectors ADD COLUMN title_terms BLOB")
            self._set_meta("titles", "pending")  # the next sync records them
        elif self._meta("titles") is None:
            empty = self._db.execute("SELECT 1 FROM vectors LIMIT 1").fetchone() is None
            self._set_meta("titles", "complete" if empty else "pending")
        analysis, analysed_by = fingerprint(), self._meta("analysis")  # what made the rows' title terms
        if analysed_by is None:  # rows from before this was recorded: made by the analysis that first shipped
            self._set_meta("analysis", analysis)
        elif analysed_by != analysis:  # made another way: the next sync records them again
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE vectors SET title_terms = NULL")
            self._set_meta("titles", "pending")
            self._set_meta("analysis", analysis)
            self._db.execute("COMMIT")
        model = self._meta("model")
        if model is None:
            self._set_meta("model", embedder.name)
        elif model != embedder.name:
            self._reset(embedder.name)  # vectors of another model are meaningless here
        self._current: tuple[int, _Snapshot] | None = None  # (watermark, snapshot), swapped as one
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
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM vectors")
        self._db.execute("DELETE FROM pending")
        self._set_meta("model", model)
        self._set_meta("watermark", "0")
        self._db.execute("COMMIT")

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
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "UPDATE vectors SET title_terms = ? WHERE document_id = ? AND title_terms IS NULL",
                    [(title_terms(title), d) for d, title in titles.items()],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
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
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO pending VALUES (?, ?)",
                    [(hashes[i], vec.astype(np.float32).tobytes()) for i, vec in zip(batch, vecs, strict=True)],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            known.update((hashes[i], vec) for i, vec in zip(batch, vecs, strict=True))
        out = np.zeros((len(rows), self.embedder.dim), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = known[h] if h in known else self.seed[h]
        return out, len(missing)

    def _write(self, doc_ids: list[str], rows: list[IndexRow], vecs: np.ndarray, mark: int) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
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
                    (r.seq, r.document_id, text_hash(r.embedding_text), _ETYPES.index(r.evidence_type), r.year or 0,
                     r.source.lower(), vecs[i].tobytes(), terms[r.document_id])
                    for i, r in enumerate(rows)
                ],
            )  # fmt: skip
            self._set_meta("watermark", str(mark))
            self._db.execute("DELETE FROM pending")  # every pending vector belongs to this chunk, now written
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    # -- reading -------------------------------------------------------------------------------

    def snapshot(self) -> _Snapshot:
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

    def _open_snapshot(self, mark: int) -> _Snapshot:
        meta_file = self.path / f"snapshot-{mark}.npz"
        matrix_file = self.path / f"snapshot-{mark}.npy"
        graph_file = self.path / f"snapshot-{mark}.hnsw"
        # One process or thread at a time builds or opens snapshots here: a build removes older snapshot files,
        # which must not vanish while another is still building or opening them.
        with file_lock(self.path / "snapshot.lock"):
            built = None  # the graph just built, already in memory
            if not (meta_file.exists() and matrix_file.exists()):
                built = self._build_snapshot(meta_file, matrix_file, graph_file)
            fields = _read_meta(meta_file)
            lost = "graph_seqs" in fields and not graph_file.exists()  # lost after the snapshot was written
            if lost or not self._same_model(fields, matrix_file):
                meta_file.unlink()
                built = self._build_snapshot(meta_file, matrix_file, graph_file)
                fields = _read_meta(meta_file)
            if "model" not in fields:  # written before snapshots named their model, and checked just now
                fields = {**fields, "model": np.array(self.embedder.name)}
                _write_meta(meta_file, fields)
            analysis = fingerprint()
            if str(fields.get("analysis", analysis)) != analysis:  # title terms made by another analysis
                fields = {k: v for k, v in fields.items() if not k.startswith("title_")}
            if "title_len" not in fields:  # written before rows kept their title terms, or dropped just now
                fields = self._add_titles(meta_file, fields)
            loaded = (built or GraphIndex.load(graph_file)) if "graph_seqs" in fields else None
            return _Snapshot(np.load(matrix_file, mmap_mode="r"), fields, loaded)

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

    def _build_snapshot(self, meta_file: Path, matrix_file: Path, graph_file: Path) -> GraphIndex | None:
        """Write the matrix (with its graph, or in IVF list order, when large) and its metadata, then drop older
        snapshots; return the graph, if one was written. The metadata file is written last: while it is missing, the
        snapshot does not exist.

        Rows stream from SQLite into a memory-mapped file and are permuted chunk by chunk, so memory stays near
        one copy of the matrix however large it is. The previous snapshot's graph is extended with the new rows
        rather than built again, unless too many of its nodes are gone (see `_graph`).
        """
        self._db.execute("BEGIN")  # the count and the rows from one state of the table
        try:
            fields = self._read_rows(matrix_file.with_suffix(".raw.npy"))
        finally:
            self._db.execute("COMMIT")
        return self._write_snapshot(meta_file, matrix_file, graph_file, *fields)

    def _read_rows(self, raw_file: Path) -> tuple[np.ndarray, dict[str, np.ndarray], _TitleColumn]:
        """Every row, in seq order: vectors into a memory-mapped file at `raw_file`; metadata; title terms."""
        n = int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])
        vecs = np.lib.format.open_memmap(raw_file, mode="w+", dtype=np.float32, shape=(n, self.embedder.dim))
        meta: dict[str, np.ndarray] = {
            "seqs": np.empty(n, dtype=np.int64), "etypes": np.empty(n, dtype=np.int8),
            "years": np.empty(n, dtype=np.int16), "keys": np.empty(n, dtype=np.int64),
        }  # fmt: skip
        sources: list[str] = []
        titles = _TitleColumn(n)
        cursor = self._db.execute(
            "SELECT seq, etype, year, source, text_hash, vec, title_terms FROM vectors ORDER BY seq"
        )
        i = 0
        while rows := cursor.fetchmany(8192):  # a block at a time: per-row NumPy calls cost more than the reading
            seqs, etypes, years, srcs, hashes, blobs, terms = zip(*rows, strict=True)
            j = i + len(rows)
            vecs[i:j] = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(rows), self.embedder.dim)
            meta["seqs"][i:j], meta["etypes"][i:j], meta["years"][i:j] = seqs, etypes, years
            meta["keys"][i:j] = [_row_key(seq, hashed) for seq, hashed in zip(seqs, hashes, strict=True)]
            sources.extend(str(x) for x in srcs)
            for row, t in enumerate(terms, start=i):
                titles.add(row, t)
            i = j
        meta["sources"] = np.array(sources, dtype=str)
        meta["title_start"], meta["title_len"] = titles.start, titles.length
        vecs.flush()
        return vecs, meta, titles

    def _write_snapshot(
        self,
        meta_file: Path,
        matrix_file: Path,
        graph_file: Path,
        vecs: np.ndarray,
        meta: dict[str, np.ndarray],
        titles: _TitleColumn,
    ) -> GraphIndex | None:
        n = len(vecs)
        raw_file = matrix_file.with_suffix(".raw.npy")
        built = None
        new_files = {meta_file, matrix_file, graph_file}
        previous = self._previous_graph(exclude=new_files)
        for old in self.path.glob("snapshot-*"):
            if old not in new_files and old != raw_file and (previous is None or old not in previous[:2]):
                old.unlink(missing_ok=True)
        if n > EXACT_LIMIT and graph.available():
            del vecs
            raw_file.replace(matrix_file.with_suffix(".tmp.npy"))
            labels, built = self._graph(matrix_file.with_suffix(".tmp.npy"), meta, graph_file, previous)
            meta |= labels
        elif n > EXACT_LIMIT:
            ivf, order = IvfIndex.build(vecs)
            ordered = np.lib.format.open_memmap(matrix_file.with_suffix(".tmp.npy"), mode="w+", dtype=np.float32,
                                                shape=(n, self.embedder.dim))  # fmt: skip
            for i in range(0, n, 65_536):
                ordered[i : i + 65_536] = vecs[order[i : i + 65_536]]
            ordered.flush()
            del ordered, vecs
            raw_file.unlink()
            meta = {k: v[order] for k, v in meta.items()}
            meta |= {"centroids": ivf.centroids, "offsets": ivf.offsets, "nprobe": np.array(ivf.nprobe)}
        else:
            del vecs
            raw_file.replace(matrix_file.with_suffix(".tmp.npy"))
        matrix_file.with_suffix(".tmp.npy").replace(matrix_file)
        meta["title_pool"] = titles.pool()  # after the IVF permutation, which reorders only per-row arrays
        meta["model"] = np.array(self.embedder.name)
        meta["analysis"] = np.array(fingerprint())
        _write_meta(meta_file, meta)
        for old in self.path.glob("snapshot-*"):
            if old not in new_files:
                old.unlink(missing_ok=True)
        return built

    def _add_titles(self, meta_file: Path, fields: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Give a snapshot its title arrays, matched to its rows by row key, once every row in SQLite has its title
        terms (the first sync after an upgrade, or after the text analysis changed, records them); until then it is
        left as it is."""
        if self._meta("titles") != "complete":
            return fields
        keyed = "keys" in fields  # snapshots from before row keys are matched by seq alone
        position = {int(k): i for i, k in enumerate(fields["keys" if keyed else "seqs"])}
        titles = _TitleColumn(len(fields["seqs"]))
        for seq, hashed, terms in self._db.execute("SELECT seq, text_hash, title_terms FROM vectors ORDER BY seq"):
            row = position.get(_row_key(seq, hashed) if keyed else seq)
            if row is not None:
                titles.add(row, terms)
        fields = {**fields, "title_start": titles.start, "title_len": titles.length, "title_pool": titles.pool(),
                  "analysis": np.array(fingerprint())}  # fmt: skip
        _write_meta(meta_file, fields)
        return fields

    def _previous_graph(self, exclude: set[Path]) -> tuple[Path, Path, dict[str, np.ndarray]] | None:
        """(metadata file, graph file, metadata) of the newest complete older snapshot that has a graph."""
        for meta_file in sorted(self.path.glob("snapshot-*.npz"), key=_mark_of, reverse=True):
            graph_file = meta_file.with_suffix(".hnsw")
            if meta_file in exclude or not graph_file.exists():
                continue
            try:
                fields = _read_meta(meta_file)
            except (OSError, ValueError):
                continue  # unreadable: the graph is built afresh
            if "graph_seqs" in fields and str(fields.get("model", self.embedder.name)) == self.embedder.name:
                return meta_file, graph_file, fields
        return None

    def _graph(
        self,
        matrix: Path,
        meta: dict[str, np.ndarray],
        graph_file: Path,
        previous: tuple[Path, Path, dict[str, np.ndarray]] | None,
    ) -> tuple[dict[str, np.ndarray], GraphIndex]:
        """Write the graph over `matrix`; return its label arrays (label -> seq, row key, whether still live) and the
        graph itself.

        A graph keeps every node it was given: nodes of passages removed since are marked dead and skipped at
        search time. The previous graph is extended with the rows it lacks while dead nodes stay under
        GRAPH_DEAD_SHARE of its size; past that, without a previous graph, or when the previous one holds float32
        vectors (graphs now keep 8-bit codes, see `graph.py`), it is built afresh.
        """
        keys = meta["keys"]
        if previous is not None:
            old = previous[2]
            live = old["graph_live"] & _member(old["graph_keys"], keys)
            fresh = np.flatnonzero(~_member(keys, old["graph_keys"][live]))
            dead = len(live) - int(live.sum())
            if dead <= GRAPH_DEAD_SHARE * (len(live) + len(fresh)):
                added = np.load(matrix, mmap_mode="r")[fresh] if len(fresh) else None
                extended = GraphIndex.extend(previous[1], added, graph_file)
                if extended is not None:  # None: an older graph of float32 vectors, built afresh below
                    return {
                        "graph_seqs": np.concatenate([old["graph_seqs"], meta["seqs"][fresh]]),
                        "graph_keys": np.concatenate([old["graph_keys"], keys[fresh]]),
                        "graph_live": np.concatenate([live, np.ones(len(fresh), dtype=bool)]),
                    }, extended
        built = GraphIndex.build(matrix, graph_file)
        labels = {"graph_seqs": meta["seqs"].copy(), "graph_keys": keys.copy(), "graph_live": np.ones(len(keys), bool)}
        return labels, built

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
        snap = self.snapshot()
        mask = _mask(snap, filters)
        if seqs is not None:
            mask = seq_mask(snap, seqs) if mask is None else mask & seq_mask(snap, seqs)
        if mask is not None:
            rows = np.flatnonzero(mask)
            if len(rows) == 0:
                return []
            scores = snap.vecs[rows] @ q
            top = _top(scores, limit)
            return [Candidate(int(snap.seqs[rows[i]]), float(scores[i])) for i in top]
        if snap.graph is not None and snap.graph_seqs is not None and snap.graph_live is not None:
            labels, scores = snap.graph.search(q, limit + min(snap.dead, limit))  # room for dead nodes
            keep = snap.graph_live[labels]
            return [
                Candidate(int(snap.graph_seqs[i]), float(s)) for i, s in zip(labels[keep], scores[keep], strict=True)
            ][:limit]
        if snap.ivf is not None:
            idx, scores = snap.ivf.search(snap.vecs, q, limit)
            return [Candidate(int(snap.seqs[i]), float(s)) for i, s in zip(idx, scores, strict=True)]
        scores = snap.vecs @ q
        return [Candidate(int(snap.seqs[i]), float(scores[i])) for i in _top(scores, limit)]

    def facts(self, seqs: Sequence[int]) -> dict[int, tuple[EvidenceType, int | None]]:
        """Evidence type and year of those of these passages that the snapshot holds, read from memory."""
        snap = self.snapshot()
        wanted, rows = _locate(snap, seqs)
        return {
            int(s): (_ETYPES[int(snap.etypes[r])], int(snap.years[r]) or None)
            for s, r in zip(wanted, rows, strict=True)
        }

    def focus(self, seqs: Sequence[int], query_terms: Iterable[str]) -> dict[int, float]:
        """Title focus (the share of a document title's terms that the query mentions, as `hybrid.title_focus`)
        of those of these passages whose title terms the snapshot holds, read from memory."""
        snap = self.snapshot()
        if snap.title_len is None or snap.title_start is None or snap.title_pool is None:
            return {}
        keys = {term_key(t) for t in query_terms}
        out: dict[int, float] = {}
        for s, r in zip(*_locate(snap, seqs), strict=True):
            n = int(snap.title_len[r])
            if n > 0:
                start = int(snap.title_start[r])
                out[int(s)] = sum(t in keys for t in snap.title_pool[start : start + n].tolist()) / n
            elif n == 0:
                out[int(s)] = 0.0
        return out

    def count(self) -> int:
        """Vectors stored."""
        return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def stats(self) -> dict[str, object]:
        """Vectors, model, bytes on disk and search mode."""
        size = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        n = self.count()
        mode = "exact" if n <= EXACT_LIMIT else "hnsw" if graph.available() else "ivf"
        return {"vectors": n, "model": self.embedder.name, "bytes": size, "mode": mode}


def _locate(snap: _Snapshot, seqs: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(seqs, rows) of those of these passages that the snapshot holds."""
    if len(snap.seqs) == 0 or not len(seqs):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    wanted = np.asarray(seqs, dtype=np.int64)
    pos = np.searchsorted(snap.seqs, wanted, sorter=snap.by_seq).clip(0, len(snap.seqs) - 1)
    rows = pos if snap.by_seq is None else snap.by_seq[pos]
    found = snap.seqs[rows] == wanted
    return wanted[found], rows[found]


class _TitleColumn:
    """Rows' title terms gathered into one pool; consecutive rows with the same terms (the passages of one
    document) share one slice of it."""

    def __init__(self, n: int) -> None:
        self.start = np.zeros(n, dtype=np.int64)
        self.length = np.full(n, -1, dtype=np.int32)  # -1: no terms recorded for the row
        self._blobs: list[bytes] = []
        self._size = 0
        self._last: bytes | None = None

    def add(self, row: int, terms: bytes | None) -> None:
        if terms is None:
            return
        n = len(terms) // 8
        if terms != self._last:
            self._blobs.append(terms)
            self._last = terms
            self._size += n
        self.start[row], self.length[row] = self._size - n, n

    def pool(self) -> np.ndarray:
        return np.frombuffer(b"".join(self._blobs), dtype=np.int64).copy()


def _member(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """np.isin(values, pool) for int64 keys, by binary search in a sorted copy of `pool` (np.isin, which hashes
    both arrays, took 0.8 s per call at a million keys)."""
    if len(pool) == 0:
        return np.zeros(len(values), dtype=bool)
    ordered = np.sort(pool)
    found: np.ndarray = ordered[np.searchsorted(ordered, values).clip(0, len(ordered) - 1)] == values
    return found


def _write_meta(meta_file: Path, meta: Mapping[str, np.ndarray]) -> None:
    """Write snapshot metadata atomically: readers see the old file or the whole new one."""
    tmp = meta_file.with_suffix(".tmp.npz")
    np.savez(tmp, **meta)  # type: ignore[arg-type]
    tmp.replace(meta_file)


def _top(scores: np.ndarray, limit: int) -> np.ndarray:
    if len(scores) <= limit:
        return np.argsort(-scores)
    part = np.argpartition(-scores, limit)[:limit]
    return part[np.argsort(-scores[part])]


def _mask(snap: _Snapshot, filters: Filters | None) -> np.ndarray | None:
    if filters is None or filters.empty:
        return None
    mask = np.ones(len(snap.seqs), dtype=bool)
    if filters.evidence_types:
        mask &= np.isin(snap.etypes, [_ETYPES.index(t) for t in filters.evidence_types])
    if filters.year_min is not None:
        mask &= snap.years >= filters.year_min
    if filters.year_max is not None:
        mask &= (snap.years <= filters.year_max) & (snap.years > 0)
    if filters.sources:
        mask &= np.isin(snap.sources, [s.lower() for s in filters.sources])
    return mask


def seq_mask(snap: _Snapshot, seqs: np.ndarray) -> np.ndarray:
    """Rows whose passage is among `seqs` (document filters arrive as the documents' passage seqs)."""
    return np.isin(snap.seqs, seqs)
