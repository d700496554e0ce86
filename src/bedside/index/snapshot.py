"""A dense index's searchable snapshot: the vector matrix (memory-mapped) with per-row metadata at one watermark,
an optional proximity graph over it, and the helpers that read and write it.

Rows carry each passage's evidence type, year and source (for filters) and its document title's analysed terms as
64-bit keys (for title focus), so a search reads only its final hits from the knowledge store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from bedside.index.graph import GraphIndex
from bedside.index.protocols import Candidate, Filters
from bedside.model import EvidenceType
from bedside.text.analysis import analyze

ETYPES = list(EvidenceType)


def term_key(term: str) -> int:
    """A stable 64-bit key for an analysed term (the same in every process)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def title_terms(title: str) -> bytes:
    """A title's distinct analysed terms as sorted 64-bit keys: what title focus needs of a document."""
    return np.array(sorted({term_key(t) for t in analyze(title)}), dtype=np.int64).tobytes()


def row_key(seq: int, hashed: str) -> int:
    """One int64 per (passage seq, text hash): a seq reused by a different text gets another key."""
    return int.from_bytes(hashlib.blake2b(f"{seq}:{hashed}".encode(), digest_size=8).digest(), "little", signed=True)


def mark_of(path: Path) -> int:
    try:
        return int(path.stem.split("-", 1)[1].split(".")[0])
    except (IndexError, ValueError):
        return -1


def read_meta(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as meta:
        return {k: meta[k] for k in meta.files}


def write_meta(meta_file: Path, meta: Mapping[str, np.ndarray]) -> None:
    """Write snapshot metadata atomically: readers see the old file or the whole new one."""
    tmp = meta_file.with_suffix(".tmp.npz")
    np.savez(tmp, **meta)  # type: ignore[arg-type]
    tmp.replace(meta_file)


class Snapshot:
    """The searchable matrix and per-row metadata at one watermark."""

    def __init__(self, vecs: np.ndarray, meta: Mapping[str, np.ndarray], graph: GraphIndex | None = None) -> None:
        self.vecs = vecs
        self.graph = graph
        self.seqs = meta["seqs"]
        self.etypes = meta["etypes"]
        self.years = meta["years"]
        self.sources = meta["sources"]
        # The graph's labels: the passage each node holds, and whether that passage is still there.
        self.graph_seqs = meta.get("graph_seqs")
        self.graph_live = meta.get("graph_live")
        self.dead = 0 if self.graph_live is None else int(len(self.graph_live) - self.graph_live.sum())
        # Each row's title terms: pool[start : start + length]; length -1 where the row has none recorded.
        self.title_start = meta.get("title_start")
        self.title_len = meta.get("title_len")
        self.title_pool = meta.get("title_pool")
        # Rows by seq for lookups: None when the rows are in seq order (those of a snapshot an older bedside wrote in
        # inverted-file list order are not; it is scanned exactly now).
        self.by_seq = None if np.all(self.seqs[1:] >= self.seqs[:-1]) else np.argsort(self.seqs, kind="stable")

    def search(self, q: np.ndarray, limit: int, filters: Filters | None, seqs: np.ndarray | None) -> list[Candidate]:
        """Best rows by inner product with `q`: exact over the rows the filters allow, else through the graph when
        there is one, else an exact scan."""
        allowed = mask(self, filters)
        if seqs is not None:
            allowed = seq_mask(self, seqs) if allowed is None else allowed & seq_mask(self, seqs)
        if allowed is not None:
            rows = np.flatnonzero(allowed)
            if len(rows) == 0:
                return []
            scores = self.vecs[rows] @ q
            return [Candidate(int(self.seqs[rows[i]]), float(scores[i])) for i in top(scores, limit)]
        if self.graph is not None and self.graph_seqs is not None and self.graph_live is not None:
            labels, found = self.graph.search(q, limit + min(self.dead, limit))  # room for dead nodes
            keep = self.graph_live[labels]
            hits = zip(labels[keep], found[keep], strict=True)
            return [Candidate(int(self.graph_seqs[i]), float(s)) for i, s in hits][:limit]
        scores = self.vecs @ q
        return [Candidate(int(self.seqs[i]), float(scores[i])) for i in top(scores, limit)]

    def facts(self, seqs: Sequence[int]) -> dict[int, tuple[EvidenceType, int | None]]:
        """Evidence type and year of those of these passages that the snapshot holds."""
        wanted, rows = locate(self, seqs)
        return {
            int(s): (ETYPES[int(self.etypes[r])], int(self.years[r]) or None) for s, r in zip(wanted, rows, strict=True)
        }

    def focus(self, seqs: Sequence[int], query_terms: Iterable[str]) -> dict[int, float]:
        """Title focus (as `hybrid.title_focus`) of those of these passages whose title terms the snapshot holds."""
        if self.title_len is None or self.title_start is None or self.title_pool is None:
            return {}
        keys = {term_key(t) for t in query_terms}
        out: dict[int, float] = {}
        for s, r in zip(*locate(self, seqs), strict=True):
            n = int(self.title_len[r])
            if n > 0:
                start = int(self.title_start[r])
                out[int(s)] = sum(t in keys for t in self.title_pool[start : start + n].tolist()) / n
            elif n == 0:
                out[int(s)] = 0.0
        return out


def locate(snap: Snapshot, seqs: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(seqs, rows) of those of these passages that the snapshot holds."""
    if len(snap.seqs) == 0 or not len(seqs):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    wanted = np.asarray(seqs, dtype=np.int64)
    pos = np.searchsorted(snap.seqs, wanted, sorter=snap.by_seq).clip(0, len(snap.seqs) - 1)
    rows = pos if snap.by_seq is None else snap.by_seq[pos]
    found = snap.seqs[rows] == wanted
    return wanted[found], rows[found]


class TitleColumn:
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


def member(values: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """np.isin(values, pool) for int64 keys, by binary search in a sorted copy of `pool` (np.isin, which hashes
    both arrays, took 0.8 s per call at a million keys)."""
    if len(pool) == 0:
        return np.zeros(len(values), dtype=bool)
    ordered = np.sort(pool)
    found: np.ndarray = ordered[np.searchsorted(ordered, values).clip(0, len(ordered) - 1)] == values
    return found


def top(scores: np.ndarray, limit: int) -> np.ndarray:
    if len(scores) <= limit:
        return np.argsort(-scores)
    part = np.argpartition(-scores, limit)[:limit]
    return part[np.argsort(-scores[part])]


def mask(snap: Snapshot, filters: Filters | None) -> np.ndarray | None:
    if filters is None or filters.empty:
        return None
    mask = np.ones(len(snap.seqs), dtype=bool)
    if filters.evidence_types:
        mask &= np.isin(snap.etypes, [ETYPES.index(t) for t in filters.evidence_types])
    if filters.year_min is not None:
        mask &= snap.years >= filters.year_min
    if filters.year_max is not None:
        mask &= (snap.years <= filters.year_max) & (snap.years > 0)
    if filters.sources:
        mask &= np.isin(snap.sources, [s.lower() for s in filters.sources])
    return mask


def seq_mask(snap: Snapshot, seqs: np.ndarray) -> np.ndarray:
    """Rows whose passage is among `seqs` (document filters arrive as the documents' passage seqs)."""
    return np.isin(snap.seqs, seqs)
