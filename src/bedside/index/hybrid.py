"""Hybrid retrieval: lexical and dense candidates fused into one ranking, then optional evidence priors.

Fusion is a convex combination of each retriever's min-max normalised scores (tuned on dev splits), with
reciprocal-rank fusion available for comparison. An optional rerank stage rescores the best fused passages by
their sentence closest to the query (`sentence_vectors.py`). Evidence-type and recency priors are a separate, last
step, so retrieval quality can be measured with and without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal, Protocol

import numpy as np

from bedside.index.protocols import Candidate, DenseRetriever, Filters, LexicalRetriever, PassageFacts, TitleFocus
from bedside.index.sentence_vectors import SentenceVectors, maxsim_rerank
from bedside.model import Document, EvidenceType, Passage, SearchHit
from bedside.text.analysis import analyze


class PassageSource(Protocol):
    """Where hits get their text and bibliographic facts: the knowledge store."""

    def passages_by_seq(self, seqs: Sequence[int]) -> dict[int, Passage]: ...
    def document_heads(self, ids: Sequence[str]) -> dict[str, Document]: ...
    def seqs_of(self, document_ids: Sequence[str]) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """How candidates are combined and re-weighted."""

    method: Literal["weighted", "rrf"] = "weighted"
    # Share of the dense score in the fusion; a searcher takes its dense model's own `fusion_weight` when it has one.
    dense_weight: float = 0.5
    rrf_k: int = 60
    depth: int = 100
    title_weight: float = 0.1  # how much of a document's title the query covers (document focus)
    type_prior: float = 0.08  # bonus for the strongest evidence type, scaled down for weaker ones
    recency_prior: float = 0.03  # bonus for the newest sources, scaled over RECENCY_SPAN years
    priors: bool = True
    rerank_depth: int = 0  # best fused passages rescored by their best sentence (0: no rerank stage)
    rerank_weight: float = 0.4  # share of the best-sentence similarity in a reranked score (tuned on dev)
    # Local protocols first: a passage from a collection with a priority ranks above every passage of lower
    # priority when its relevance (before priors) is at least this share of the best candidate's, i.e. when it is
    # about what was asked; below that share it keeps its own place, so a protocol never outranks the literature
    # on another topic.
    collection_topic_share: float = 0.2


RECENCY_SPAN = 30


def fuse(lexical: list[Candidate], dense: list[Candidate], config: FusionConfig) -> dict[int, float]:
    """Fused score per passage seq."""
    if config.method == "rrf":
        scores: dict[int, float] = {}
        for ranked in (lexical, dense):
            for rank, c in enumerate(ranked):
                scores[c.seq] = scores.get(c.seq, 0.0) + 1.0 / (config.rrf_k + rank + 1)
        return scores
    w = config.dense_weight if dense else 0.0
    out: dict[int, float] = {}
    for ranked, weight in ((lexical, 1.0 - w), (dense, w)):
        if not ranked or weight == 0:
            continue
        values = np.array([c.score for c in ranked], dtype=np.float64)
        lo, hi = float(values.min()), float(values.max())
        span = hi - lo if hi > lo else 1.0
        for c, v in zip(ranked, values, strict=True):
            out[c.seq] = out.get(c.seq, 0.0) + weight * (v - lo) / span
    return out


def prior(evidence_type: EvidenceType, year: int | None, config: FusionConfig, newest: int) -> float:
    """The additive bonus a source earns for its evidence type and recency."""
    levels = len(EvidenceType) - 1
    bonus = config.type_prior * (levels - evidence_type.rank) / levels
    if year:
        bonus += config.recency_prior * max(0.0, 1.0 - (newest - year) / RECENCY_SPAN)
    return bonus


def title_focus(query_terms: set[str], title: str) -> float:
    """Share of a document's title terms that the query mentions: a document about something else scores low."""
    terms = set(analyze(title))
    return len(terms & query_terms) / len(terms) if terms else 0.0


class HybridSearcher:
    """Lexical + dense retrieval over the knowledge store's passages, on any backends that keep the retriever
    protocols; fusion, title focus, priors and rerank are bedside's own, the same on every backend."""

    def __init__(
        self,
        store: PassageSource,
        lexical: LexicalRetriever,
        dense: DenseRetriever | None = None,
        config: FusionConfig | None = None,
        sentences: SentenceVectors | None = None,
    ) -> None:
        self.store = store
        self.lexical = lexical
        self.dense = dense
        # Optional capabilities, from whichever retriever offers them (the dense one first: it holds every row).
        backends = [r for r in (dense, lexical) if r is not None]
        self.facts: PassageFacts | None = next((r for r in backends if isinstance(r, PassageFacts)), None)
        self.focus: TitleFocus | None = next((r for r in backends if isinstance(r, TitleFocus)), None)
        if config is None:  # the weight tuned for this dense model (bench/retrieval.py, dev splits), if it has one
            weight = getattr(dense.embedder, "fusion_weight", None) if dense is not None else None
            config = FusionConfig(dense_weight=float(weight)) if weight is not None else FusionConfig()
        self.config = config
        self.sentences = sentences
        self.priorities: dict[str, int] = {}  # collection name -> priority (the operator's; 0 or absent: none)

    def candidates(
        self, query: str, filters: Filters | None = None, config: FusionConfig | None = None
    ) -> dict[int, float]:
        """Fused scores (before priors) of every candidate passage."""
        return self._candidates(query, filters, config or self.config)[0]

    def _candidates(
        self, query: str, filters: Filters | None, config: FusionConfig
    ) -> tuple[dict[int, float], np.ndarray | None]:
        """Fused scores, and the query vector when the dense retriever ran."""
        lex = self.lexical.search(query, config.depth, filters)
        dense: list[Candidate] = []
        q = None
        if self.dense is not None and config.dense_weight > 0:
            seqs = None
            if filters is not None and filters.document_ids:
                seqs = np.array(self.store.seqs_of(sorted(filters.document_ids)), dtype=np.int64)
            q = self.dense.embedder.embed_query(query)
            dense = self.dense.search_vector(q, config.depth, filters, seqs=seqs)
        return fuse(lex, dense, config), q

    def search(
        self, query: str, limit: int = 10, filters: Filters | None = None, config: FusionConfig | None = None
    ) -> list[SearchHit]:
        """The best passages, with their documents' facts; priors applied when the config says so."""
        config = config or self.config
        fused, q = self._candidates(query, filters, config)
        if not fused:
            return []
        keep = filters is not None and filters.include_withdrawn
        if config.rerank_depth > 0 and q is not None and self.sentences is not None:
            reranked = self._reranked(query, q, fused, limit, config, self.sentences, keep)
            reranked = self._collections_first(reranked, config)
            return self._hits(reranked[:limit], config)
        priors = self._priors(fused, config)
        if any(self.priorities.values()):  # a collection's boost is not bounded in advance: read every candidate
            window = fused
        else:
            window = self._finalists(query, _window(fused, limit, config, priors), limit, config, priors)
        scored = self._rescore(query, window, config, keep)
        if len(scored) < limit and len(window) < len(fused):  # some were removed since the sync, or withdrawn
            scored = self._rescore(query, fused, config, keep)
        scored.sort(key=lambda t: (-t[0], t[2].id))
        scored = self._collections_first(scored, config)
        return self._hits(scored[:limit], config)

    def _hits(self, ranked: list[tuple[float, float, Passage, Document]], config: FusionConfig) -> list[SearchHit]:
        best = max((base for _, base, _, _ in ranked), default=0.0)
        lifted = any(self.priorities.values())
        return [
            replace(_hit(p, d, float(total), float(base)), priority=self._lifted(base, d, best, config))
            if lifted and d.collection
            else _hit(p, d, float(total), float(base))
            for total, base, p, d in ranked
        ]

    def _collections_first(
        self, ranked: list[tuple[float, float, Passage, Document]], config: FusionConfig
    ) -> list[tuple[float, float, Passage, Document]]:
        """The ranking with on-topic passages of prioritised collections moved up, higher priority first; the
        order within each priority is kept (a stable sort)."""
        if not ranked or not any(self.priorities.values()):
            return ranked
        best = max(base for _, base, _, _ in ranked)
        return sorted(ranked, key=lambda t: -self._lifted(t[1], t[3], best, config))

    def _lifted(self, base: float, d: Document, best: float, config: FusionConfig) -> int:
        """The priority a passage is ranked by: its collection's, when it is on topic (see FusionConfig)."""
        on_topic = base >= config.collection_topic_share * best
        return self.priorities.get(d.collection, 0) if d.collection and on_topic else 0

    def _priors(self, fused: dict[int, float], config: FusionConfig) -> dict[int, float] | None:
        """Each candidate's prior bonus from the backend's copy of its evidence type and year (no store read), or
        None when priors are off or no backend holds them all."""
        if not config.priors or self.facts is None or len(fused) <= 1:
            return None
        facts = self.facts.facts(list(fused))
        if len(facts) < len(fused):
            return None
        newest = date.today().year
        return {seq: prior(etype, year, config, newest) for seq, (etype, year) in facts.items()}

    def _finalists(
        self, query: str, window: dict[int, float], limit: int, config: FusionConfig, priors: dict[int, float] | None
    ) -> dict[int, float]:
        """The window cut to the candidates whose final score reaches the top `limit` (ties at the cut kept), scored
        in memory from the backend's copy of each document's title terms; the window itself when no backend holds
        them all. Only these few are then read from the store."""
        if self.focus is None or len(window) <= limit or (config.priors and priors is None):
            return window
        focus = self.focus.focus(list(window), set(analyze(query)))
        if len(focus) < len(window):
            return window
        totals = {
            seq: score + config.title_weight * focus[seq] + (priors[seq] if priors is not None else 0.0)
            for seq, score in window.items()
        }
        kth = sorted(totals.values(), reverse=True)[limit - 1]
        return {seq: window[seq] for seq, total in totals.items() if total >= kth - 1e-9}

    def _rescore(
        self, query: str, fused: dict[int, float], config: FusionConfig, keep_withdrawn: bool = False
    ) -> list[tuple[float, float, Passage, Document]]:
        """Candidates with their final scores; a retracted article or a notice only when `keep_withdrawn`."""
        passages = self.store.passages_by_seq(list(fused))
        docs = self.store.document_heads([p.document_id for p in passages.values()])
        newest = date.today().year
        query_terms = set(analyze(query))
        scored = []
        for seq, score in fused.items():
            p = passages.get(seq)
            if p is None or p.document_id not in docs:
                continue  # removed since the index was synced
            d = docs[p.document_id]
            if d.withdrawn and not keep_withdrawn:
                continue
            score += config.title_weight * title_focus(query_terms, d.title)
            total = score + (prior(d.evidence_type, d.year, config, newest) if config.priors else 0.0)
            scored.append((total, score, p, d))
        return scored

    def _reranked(
        self,
        query: str,
        q: np.ndarray,
        fused: dict[int, float],
        limit: int,
        config: FusionConfig,
        sentences: SentenceVectors,
        keep_withdrawn: bool = False,
    ) -> list[tuple[float, float, Passage, Document]]:
        """At least `limit` candidates best first: the top `rerank_depth` by fused score blended with their
        best-sentence similarity (then priors), then, if `limit` reaches past them, the rest in their own order
        shifted below the reranked window."""
        ranked = sorted(fused, key=lambda seq: -fused[seq])
        head = self._rescore(
            query, {s: fused[s] for s in ranked[: config.rerank_depth]}, replace(config, priors=False), keep_withdrawn
        )
        vecs = sentences.vectors_for({i: p.text for i, (_, _, p, _) in enumerate(head)})
        blended = maxsim_rerank({i: t[1] for i, t in enumerate(head)}, q, vecs, config.rerank_weight)
        newest = date.today().year
        out = []
        for i, (_, _, p, d) in enumerate(head):
            bonus = prior(d.evidence_type, d.year, config, newest) if config.priors else 0.0
            out.append((blended[i] + bonus, blended[i], p, d))
        out.sort(key=lambda t: (-t[0], t[2].id))
        if limit <= len(out):
            return out
        tail = self._rescore(query, {s: fused[s] for s in ranked[config.rerank_depth :]}, config, keep_withdrawn)
        tail.sort(key=lambda t: (-t[0], t[2].id))
        if out and tail:  # keep the unreranked below the window, in their own order
            shift = max(0.0, tail[0][0] - out[-1][0]) + 1e-6
            tail = [(total - shift, base, p, d) for total, base, p, d in tail]
        return out + tail


def _window(
    fused: dict[int, float], limit: int, config: FusionConfig, priors: dict[int, float] | None = None
) -> dict[int, float]:
    """The candidates that can still reach the top `limit` once title focus and priors are added.

    Those bonuses are bounded, so anything scoring below the limit-th candidate by more than the largest possible
    bonus can never overtake it: skipping it changes no result and saves fetching it from the store. With each
    candidate's own prior known (`priors`), only title focus is left unknown and the window is narrower.
    """
    if len(fused) <= limit:
        return fused
    if priors is not None:
        lower = {seq: s + priors[seq] for seq, s in fused.items()}
        kth = sorted(lower.values(), reverse=True)[limit - 1]
        return {seq: s for seq, s in fused.items() if lower[seq] + config.title_weight >= kth}
    bonus = config.title_weight + ((config.type_prior + config.recency_prior) if config.priors else 0.0)
    kth = sorted(fused.values(), reverse=True)[limit - 1]
    return {seq: s for seq, s in fused.items() if s >= kth - bonus}


def _hit(p: Passage, d: Document, total: float, base: float) -> SearchHit:
    return SearchHit(
        passage_id=p.id,
        document_id=d.id,
        score=round(total, 6),
        text=p.text,
        section=p.section,
        title=d.title,
        evidence_type=d.evidence_type,
        year=d.year,
        source=d.source,
        start=p.start,
        end=p.end,
        url=d.link,
        scores={"fused": round(base, 6)},
        withdrawn="retracted" if d.retracted else d.notice,
        collection=d.collection,
    )
