"""An inverted-file index over unit vectors: spherical k-means lists; a search probes the closest lists.

bedside searched large snapshots this way before its HNSW graph (`bedside.index.graph`); it stays here as a baseline
for bench/ann.py.

The caller stores its matrix in list order (`IvfIndex.build` returns the permutation), so probing a list is a
contiguous slice of the memory-mapped matrix and no second copy of the vectors is ever held.
"""

from __future__ import annotations

import numpy as np

_TRAIN_SAMPLE = 65_536
_ITERATIONS = 10


class IvfIndex:
    """Coarse centroids and, for the list-ordered matrix, each list's row offsets."""

    def __init__(self, centroids: np.ndarray, offsets: np.ndarray, nprobe: int) -> None:
        self.centroids = centroids
        self.offsets = offsets
        self.nprobe = nprobe

    @classmethod
    def build(cls, vecs: np.ndarray, nlist: int | None = None, seed: int = 0) -> tuple[IvfIndex, np.ndarray]:
        """Train on a sample, assign every vector; return the index and the row order that groups the lists."""
        n = len(vecs)
        nlist = nlist or max(16, min(4096, int(np.sqrt(n))))
        rng = np.random.default_rng(seed)
        sample = np.asarray(vecs[np.sort(rng.choice(n, size=min(n, _TRAIN_SAMPLE), replace=False))], dtype=np.float32)
        centroids = sample[rng.choice(len(sample), size=nlist, replace=False)].copy()
        for _ in range(_ITERATIONS):
            assign = np.argmax(sample @ centroids.T, axis=1)
            sums = np.zeros_like(centroids)
            np.add.at(sums, assign, sample)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            empty = norms[:, 0] == 0
            if empty.any():  # re-seed empty lists from random sample points
                sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()), replace=False)]
                norms[empty] = 1.0
            centroids = (sums / norms).astype(np.float32)
        labels = np.empty(n, dtype=np.int32)
        for i in range(0, n, 65_536):
            labels[i : i + 65_536] = np.argmax(np.asarray(vecs[i : i + 65_536]) @ centroids.T, axis=1)
        order = np.argsort(labels, kind="stable").astype(np.int64)
        offsets = np.searchsorted(labels[order], np.arange(nlist + 1)).astype(np.int64)
        # A sixth of the lists: on real bge-small vectors (bench/ann.py) that finds 0.90 of the exact top 10.
        return cls(centroids, offsets, nprobe=max(8, nlist // 6)), order

    def search(self, vecs: np.ndarray, q: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Row indexes into the list-ordered `vecs` and their scores, best first, among the probed lists."""
        probe = np.argsort(-(self.centroids @ q))[: self.nprobe]
        spans = [(int(self.offsets[c]), int(self.offsets[c + 1])) for c in probe]
        scores = np.concatenate([vecs[a:b] @ q for a, b in spans])
        rows = np.concatenate([np.arange(a, b) for a, b in spans])
        top = np.argpartition(-scores, limit)[:limit] if len(scores) > limit else np.arange(len(scores))
        top = top[np.argsort(-scores[top])]
        return rows[top], scores[top]
