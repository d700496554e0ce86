"""Sentence-level reranking: a passage scores by its sentence closest to the query (MaxSim).

A claim or a question usually matches one sentence of an abstract, and a passage embedding averages that sentence
with the rest, so scoring a passage by its best sentence sharpens the top of a ranking (the MaxP idea of
Dai & Callan, SIGIR 2019, with a bi-encoder instead of a cross-encoder). Sentence vectors are cached in SQLite by
passage-text hash; `warm` embeds them in bulk ahead of queries, and `vectors_for` embeds any that are missing,
so a cold passage costs one embedding call the first time it reaches a rerank window.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from bedside.index.protocols import Embedder
from bedside.index.vectors import text_hash
from bedside.store.sqlite import Schema, open_database, transaction
from bedside.text.sentences import split

# The cache's key for how passages were cut into sentences: vectors cut another way are dropped on open.
SPLITTER = "bedside.sentences/1"  # the cache key names the splitter, whatever its module is called
SENTENCES_SCHEMA = Schema(
    "sentence vector cache",
    (
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE IF NOT EXISTS sentences (text_hash TEXT PRIMARY KEY, n INTEGER NOT NULL, vecs BLOB NOT NULL)",
    ),
)

WARM_BATCH = 128  # passages whose sentences are embedded and stored at a time


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage, cut by bedside's one splitter (abbreviations such as "No. RR-3" or "Fig. 2" do not
    end a sentence); never empty strings."""
    return [s.strip() for s in split(text) if s.strip()] or ([text.strip()] if text.strip() else [])


class SentenceVectors:
    """Per-passage sentence embeddings (float16) in `<path>`, keyed by the passage text's hash.

    The file remembers its model: opening it with another embedder empties it.
    """

    def __init__(self, path: Path, embedder: Embedder) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.embedder = embedder
        self._lock = threading.Lock()
        self._db = open_database(path, SENTENCES_SCHEMA)
        key = f"{embedder.name} {SPLITTER}"
        row = self._db.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
        if row is None or row[0] != key:  # vectors of another model, or of sentences cut another way, are no use
            with transaction(self._db) as db:
                db.execute("DELETE FROM sentences")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('model', ?)", (key,))

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def vectors_for(self, texts: Mapping[int, str]) -> dict[int, np.ndarray]:
        """Unit sentence vectors (rows) per key of `texts`, embedding and caching those not yet held."""
        hashes = {key: text_hash(text) for key, text in texts.items()}
        known = self._lookup(set(hashes.values()))
        missing = {h: texts[key] for key, h in hashes.items() if h not in known}
        if missing:
            known |= self._embed(missing)
        return {key: known[h] for key, h in hashes.items()}

    def warm(self, texts: Iterable[str]) -> int:
        """Embed and cache the sentences of every given passage text not yet held; returns how many were new."""
        wanted = {text_hash(t): t for t in texts}
        held = self._lookup(set(wanted))
        fresh = [(h, t) for h, t in wanted.items() if h not in held]
        for start in range(0, len(fresh), WARM_BATCH):  # committed batch by batch: a huge document is resumable
            self._embed(dict(fresh[start : start + WARM_BATCH]))
        return len(fresh)

    def _lookup(self, hashes: set[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        keys = sorted(hashes)
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            # Safe to format: only "?" marks go into the SQL, never values.
            sql = f"SELECT text_hash, n, vecs FROM sentences WHERE text_hash IN ({','.join('?' * len(part))})"  # nosec B608
            with self._lock:
                rows = self._db.execute(sql, part).fetchall()
            for h, n, blob in rows:
                out[h] = np.frombuffer(blob, dtype=np.float16).reshape(n, -1).astype(np.float32)
        return out

    def _embed(self, texts: Mapping[str, str]) -> dict[str, np.ndarray]:
        split = {h: split_sentences(t) or [t] for h, t in texts.items()}
        flat = [s for sentences in split.values() for s in sentences]
        vecs = self.embedder.embed(flat)
        out: dict[str, np.ndarray] = {}
        start = 0
        for h, sentences in split.items():
            # Rounded as stored, so a passage scores the same whether its vectors were cached or just made.
            out[h] = vecs[start : start + len(sentences)].astype(np.float16).astype(np.float32)
            start += len(sentences)
        rows = [(h, len(v), v.astype(np.float16).tobytes()) for h, v in out.items()]
        with self._lock, transaction(self._db) as db:
            db.executemany("INSERT OR REPLACE INTO sentences VALUES (?, ?, ?)", rows)
        return out


def maxsim_rerank(
    scores: Mapping[int, float], query: np.ndarray, sentences: Mapping[int, np.ndarray], weight: float
) -> dict[int, float]:
    """Blend each candidate's min-max normalised score with its min-max normalised best-sentence similarity.

    Returns scores in [0, 1] for exactly the keys of `scores`; a candidate without sentence vectors counts as
    the least similar. `weight` 0 keeps the given order, 1 orders by best sentence alone.
    """
    keys = list(scores)
    if not keys:
        return {}
    base = _minmax(np.array([scores[k] for k in keys], dtype=np.float64))
    best = np.array(
        [float((sentences[k] @ query).max()) if k in sentences and len(sentences[k]) else -1.0 for k in keys]
    )
    sims = _minmax(best)
    blended = (1.0 - weight) * base + weight * sims
    return {k: float(v) for k, v in zip(keys, blended, strict=True)}


def _minmax(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values)


class CachedEmbeddings:
    """An embedder's `embed` with a bounded least-recently-used cache by exact text: the answer composer embeds
    the same source sentences again whenever a passage comes back, and a cache hit costs a dictionary lookup."""

    def __init__(self, embedder: Embedder, capacity: int = 50_000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Unit vectors (len(texts), dim), in input order."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh = self.embedder.embed(missing) if missing else None
        with self._lock:
            for text, vec in zip(missing, fresh if fresh is not None else [], strict=True):
                self._cache[text] = vec
            out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
            for i, text in enumerate(texts):
                vec = self._cache.get(text)
                if vec is None:  # evicted by a concurrent caller between the two locks: embed it alone
                    vec = self.embedder.embed([text])[0]
                else:
                    self._cache.move_to_end(text)
                out[i] = vec
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return out
