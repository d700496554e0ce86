"""Writing a dense index's snapshot from its SQLite rows: the matrix, its metadata and, above EXACT_LIMIT rows when
faiss is installed, an HNSW graph (extended from the previous snapshot's while few of its nodes are gone).

Without faiss a large snapshot is scanned exactly: slower, never wrong (faiss ships with the `dense` extra).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bedside.index import graph
from bedside.index.graph import GraphIndex
from bedside.index.protocols import Embedder
from bedside.index.snapshot import TitleColumn, mark_of, member, read_meta, row_key, write_meta
from bedside.text.analysis import fingerprint

EXACT_LIMIT = 200_000
GRAPH_DEAD_SHARE = 0.2  # a graph whose removed nodes pass this share of its size is built afresh


class SnapshotBuilder:
    """Builds the snapshots of the vector index in `path` from its database connection."""

    def __init__(
        self, db: sqlite3.Connection, path: Path, embedder: Embedder, titles_complete: Callable[[], bool]
    ) -> None:
        self._db = db
        self.path = path
        self.embedder = embedder
        self.titles_complete = titles_complete

    def build(self, meta_file: Path, matrix_file: Path, graph_file: Path) -> GraphIndex | None:
        """Write the matrix (with its graph, when large and faiss is installed) and its metadata, then drop older
        snapshots; return the graph, if one was written. The metadata file is written last: while it is missing, the
        snapshot does not exist.

        Rows stream from SQLite into a memory-mapped file, so memory stays near one copy of the matrix however large
        it is. The previous snapshot's graph is extended with the new rows
        rather than built again, unless too many of its nodes are gone (see `_graph`).
        """
        self._db.execute("BEGIN")  # the count and the rows from one state of the table
        try:
            fields = self._read_rows(matrix_file.with_suffix(".raw.npy"))
        finally:
            self._db.execute("COMMIT")
        return self._write_snapshot(meta_file, matrix_file, graph_file, *fields)

    def _read_rows(self, raw_file: Path) -> tuple[np.ndarray, dict[str, np.ndarray], TitleColumn]:
        """Every row, in seq order: vectors into a memory-mapped file at `raw_file`; metadata; title terms."""
        n = int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])
        vecs = np.lib.format.open_memmap(raw_file, mode="w+", dtype=np.float32, shape=(n, self.embedder.dim))
        meta: dict[str, np.ndarray] = {
            "seqs": np.empty(n, dtype=np.int64),
            "etypes": np.empty(n, dtype=np.int8),
            "years": np.empty(n, dtype=np.int16),
            "keys": np.empty(n, dtype=np.int64),
        }
        sources: list[str] = []
        titles = TitleColumn(n)
        cursor = self._db.execute(
            "SELECT seq, etype, year, source, text_hash, vec, title_terms FROM vectors ORDER BY seq"
        )
        i = 0
        while rows := cursor.fetchmany(8192):  # a block at a time: per-row NumPy calls cost more than the reading
            seqs, etypes, years, srcs, hashes, blobs, terms = zip(*rows, strict=True)
            j = i + len(rows)
            vecs[i:j] = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(rows), self.embedder.dim)
            meta["seqs"][i:j], meta["etypes"][i:j], meta["years"][i:j] = seqs, etypes, years
            meta["keys"][i:j] = [row_key(seq, hashed) for seq, hashed in zip(seqs, hashes, strict=True)]
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
        titles: TitleColumn,
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
        else:
            del vecs
            raw_file.replace(matrix_file.with_suffix(".tmp.npy"))
        matrix_file.with_suffix(".tmp.npy").replace(matrix_file)
        meta["title_pool"] = titles.pool()
        meta["model"] = np.array(self.embedder.name)
        meta["analysis"] = np.array(fingerprint())
        write_meta(meta_file, meta)
        for old in self.path.glob("snapshot-*"):
            if old not in new_files:
                old.unlink(missing_ok=True)
        return built

    def add_titles(self, meta_file: Path, fields: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Give a snapshot its title arrays, matched to its rows by row key, once every row in SQLite has its title
        terms (the first sync after an upgrade, or after the text analysis changed, records them); until then it is
        left as it is."""
        if not self.titles_complete():
            return fields
        keyed = "keys" in fields  # snapshots from before row keys are matched by seq alone
        position = {int(k): i for i, k in enumerate(fields["keys" if keyed else "seqs"])}
        titles = TitleColumn(len(fields["seqs"]))
        for seq, hashed, terms in self._db.execute("SELECT seq, text_hash, title_terms FROM vectors ORDER BY seq"):
            row = position.get(row_key(seq, hashed) if keyed else seq)
            if row is not None:
                titles.add(row, terms)
        fields = {
            **fields,
            "title_start": titles.start,
            "title_len": titles.length,
            "title_pool": titles.pool(),
            "analysis": np.array(fingerprint()),
        }
        write_meta(meta_file, fields)
        return fields

    def _previous_graph(self, exclude: set[Path]) -> tuple[Path, Path, dict[str, np.ndarray]] | None:
        """(metadata file, graph file, metadata) of the newest complete older snapshot that has a graph."""
        for meta_file in sorted(self.path.glob("snapshot-*.npz"), key=mark_of, reverse=True):
            graph_file = meta_file.with_suffix(".hnsw")
            if meta_file in exclude or not graph_file.exists():
                continue
            try:
                fields = read_meta(meta_file)
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
            live = old["graph_live"] & member(old["graph_keys"], keys)
            fresh = np.flatnonzero(~member(keys, old["graph_keys"][live]))
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
