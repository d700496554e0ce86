"""What the evidence agrees on: how much each candidate sentence shares with the other passages' sentences, in
words (`centrality`) and in meaning (`semantic_centrality` over sentence vectors). The extractive composer adds it
to a sentence's score.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bedside.answer.candidates import Candidate

__all__ = ["centrality", "overlap", "semantic_centrality", "sentence_vectors"]


def centrality(cands: list[Candidate]) -> dict[int, float]:
    """How much each sentence shares with the other passages' sentences (what the evidence agrees on)."""
    out: dict[int, float] = {}
    for i, c in enumerate(cands):
        others = [overlap(c.terms, o.terms) for o in cands if o.passage.passage_id != c.passage.passage_id]
        out[i] = sum(sorted(others, reverse=True)[:5]) / 5 if others else 0.0
    return out


def sentence_vectors(cands: list[Candidate], embed: Callable[[list[str]], Any]) -> np.ndarray:
    """One unit vector per candidate sentence; ValueError if the embedder answers with the wrong shape."""
    vecs = np.asarray(embed([c.text for c in cands]), dtype=np.float32)
    if vecs.ndim != 2 or len(vecs) != len(cands):
        raise ValueError(f"embedder returned shape {vecs.shape} for {len(cands)} sentences")
    return vecs


def semantic_centrality(vecs: np.ndarray) -> list[float]:
    """Cosine of each sentence's vector with the centroid of all candidates' vectors: how close a sentence is in
    meaning to what the evidence says as a whole (0 for all when the vectors carry nothing)."""
    centroid = vecs.mean(axis=0)
    norm = float(np.linalg.norm(centroid))
    if norm == 0.0:
        return [0.0] * len(vecs)
    return [float(x) for x in vecs @ (centroid / norm)]


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0
