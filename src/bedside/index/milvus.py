"""Milvus as the search backend: BM25 and dense HNSW collections that every host of an installation shares.

`MilvusClient(uri)` reaches a Milvus server (standalone or distributed) by URL, or runs Milvus Lite on a local file
(tests, one host). Both collections hold the evidence type, year, source and document id of each passage as scalar
fields, so filters run inside Milvus; the lexical one holds bedside's own analysed terms (`bedside.text.analysis`),
and the dense one the passage vectors and the title terms that title focus needs.

What Milvus does not decide: fusion, title focus, priors and rerank stay in `HybridSearcher`, the same on every
backend (Milvus's own weighted ranker normalises scores with arctan, not bedside's min-max, and ranked worse).

Terms travel as opaque tokens. Milvus's analyzers would split bedside's terms again ("6.5" into "6" and "5"), so each
analysed term is written as one hexadecimal token that the standard tokenizer keeps whole; query term weights
(expansions count less) become repetitions of the token, which Milvus's BM25 counts as query term frequency.

Milvus reports a BM25 match as a distance that some versions give as minus the score (Milvus Lite does): scores are
taken as its absolute value (a BM25 score is never negative), so the lexical ranking can never be flipped.

Consistency: searches and the reads behind them (known terms, facts, title focus) ask for the configured level
(`BEDSIDE_MILVUS_CONSISTENCY`, default Strong: a search sees every write acknowledged before it started), passed with
each request so it holds for collections made earlier too; counts and listings for integrity checks always read
Strong. Under Bounded a search may miss the last seconds of writes that the store's watermark already records.

Watermarks live in the knowledge store, not in Milvus: every host sees how far the shared collections are, and the
store's indexer lock keeps one indexer per collection. A sync upserts a changed document's passages, then deletes
its passages that are gone, then records the watermark: a crash at any point replays the same changes harmlessly,
and searchers never see a changed document without passages.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bedside.index.lexical import CONTEXT_BOOST
from bedside.index.milvus_collection import (
    CONSISTENCY_LEVELS,
    EVIDENCE_TYPES,
    MAX_TEXT,
    TITLE_TERMS,
    WEIGHT_STEPS,
    MilvusCollection,
    WatermarkSource,
    analysed_tokens,
    connect,
    filter_expression,
    term_token,
)
from bedside.index.protocols import Candidate, Embedder, Filters
from bedside.index.vectors import text_hash
from bedside.model import EvidenceType, IndexRow
from bedside.text.analysis import QueryAnalyzer, analyze

if TYPE_CHECKING:
    from pymilvus import MilvusClient

log = logging.getLogger(__name__)

__all__ = ["CONSISTENCY_LEVELS", "MilvusDenseIndex", "MilvusLexicalIndex", "connect"]


class MilvusLexicalIndex(MilvusCollection):
    """BM25 over bedside's analysed passage text and, down-weighted, its title, section and topics."""

    kind = "lexical"

    def __init__(
        self,
        uri: str,
        collection: str,
        store: WatermarkSource,
        client: MilvusClient | None = None,
        analyzer: QueryAnalyzer | None = None,
        consistency: str = "Strong",
    ) -> None:
        self.analyzer = analyzer or QueryAnalyzer()
        super().__init__(uri, collection, store, client, consistency)

    def _create(self) -> None:
        from pymilvus import DataType, Function, FunctionType

        schema = self._schema()
        for field in ("text", "context"):
            schema.add_field(
                field,
                DataType.VARCHAR,
                max_length=MAX_TEXT,
                enable_analyzer=True,
                analyzer_params={"tokenizer": "standard"},
            )
            schema.add_field(f"{field}_bm25", DataType.SPARSE_FLOAT_VECTOR)
            schema.add_function(
                Function(
                    name=f"{field}_bm25",
                    function_type=FunctionType.BM25,
                    input_field_names=[field],
                    output_field_names=[f"{field}_bm25"],
                )
            )
        index = self.client.prepare_index_params()
        for field in ("text", "context"):
            index.add_index(f"{field}_bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.client.create_collection(
            self.collection, schema=schema, index_params=index, consistency_level=self.consistency
        )

    def _entities(self, rows: list[IndexRow]) -> list[dict[str, Any]]:
        return [
            {**self._scalars(r), "text": analysed_tokens(r.text), "context": analysed_tokens(r.context)} for r in rows
        ]

    def search(self, query: str, limit: int = 100, filters: Filters | None = None) -> list[Candidate]:
        """BM25 over passage text plus down-weighted title/section/topics, with weighted expansions."""
        terms = self.analyzer.terms(query)
        if not terms:
            return []
        text = " ".join(" ".join([term_token(t.term)] * max(1, round(t.weight * WEIGHT_STEPS))) for t in terms)
        expression = filter_expression(filters)
        scores: dict[int, float] = {}
        for field, boost in (("text", 1.0), ("context", CONTEXT_BOOST)):
            hits = self.client.search(
                self.collection,
                data=[text],
                anns_field=f"{field}_bm25",
                limit=limit,
                filter=expression,
                search_params={"metric_type": "BM25"},
                output_fields=["seq"],
                consistency_level=self.consistency,
            )[0]
            for hit in hits:
                seq = int(hit["seq"])
                scores[seq] = scores.get(seq, 0.0) + boost * abs(float(hit["distance"]))  # see the module's note
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [Candidate(seq, score) for seq, score in ranked]

    def known(self, terms: Iterable[str]) -> frozenset[str]:
        """The analysed terms that occur in at least one indexed passage (its text or its document's context)."""
        return self._occurring(terms, ("text", "context"))

    def named(self, terms: Iterable[str]) -> frozenset[str]:
        """The analysed terms that some document's title, section headings or topics use."""
        return self._occurring(terms, ("context",))

    def _occurring(self, terms: Iterable[str], fields: tuple[str, ...]) -> frozenset[str]:
        found = []
        for term in dict.fromkeys(terms):
            for field in fields:
                hits = self.client.search(
                    self.collection,
                    data=[term_token(term)],
                    anns_field=f"{field}_bm25",
                    limit=1,
                    search_params={"metric_type": "BM25"},
                    output_fields=["seq"],
                    consistency_level=self.consistency,
                )[0]
                if len(hits):
                    found.append(term)
                    break
        return frozenset(found)


class MilvusDenseIndex(MilvusCollection):
    """Passage vectors in an HNSW index (inner product of unit vectors: cosine), with title terms for title focus."""

    kind = "dense"

    def __init__(
        self,
        uri: str,
        collection: str,
        store: WatermarkSource,
        embedder: Embedder,
        client: MilvusClient | None = None,
        seed: Mapping[str, np.ndarray] | None = None,
        consistency: str = "Strong",
    ) -> None:
        self.embedder = embedder
        self.seed = seed if seed is not None else {}
        super().__init__(uri, collection, store, client, consistency)
        key = f"{self.name}:model"
        if store.get_meta(key) != embedder.name:  # vectors of another model are meaningless here
            if store.get_meta(key) is not None:
                self.client.drop_collection(self.collection)
                self._create()
                store.set_watermark(self.name, 0)
            store.set_meta(key, embedder.name)

    def _create(self) -> None:
        from pymilvus import DataType

        schema = self._schema()
        schema.add_field("title_terms", DataType.ARRAY, element_type=DataType.INT64, max_capacity=TITLE_TERMS)
        schema.add_field("title_n", DataType.INT32)  # distinct title terms; -1: too many to keep here
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.embedder.dim)
        index = self.client.prepare_index_params()
        index.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200})
        self.client.create_collection(
            self.collection, schema=schema, index_params=index, consistency_level=self.consistency
        )

    def _entities(self, rows: list[IndexRow]) -> list[dict[str, Any]]:
        from bedside.index.vectors import term_key

        texts = [r.embedding_text for r in rows]
        hashes = [text_hash(t) for t in texts]
        vecs = np.zeros((len(rows), self.embedder.dim), dtype=np.float32)
        missing = [i for i, h in enumerate(hashes) if h not in self.seed]
        if missing:
            vecs[missing] = self.embedder.embed([texts[i] for i in missing])
        for i, h in enumerate(hashes):
            if h in self.seed:
                vecs[i] = self.seed[h]
        out = []
        for row, vec in zip(rows, vecs, strict=True):
            terms = sorted({term_key(t) for t in analyze(row.title)})
            kept = terms if len(terms) <= TITLE_TERMS else []
            out.append(
                {
                    **self._scalars(row),
                    "title_terms": kept,
                    "title_n": len(kept) if kept == terms else -1,
                    "vector": vec.tolist(),
                }
            )
        return out

    def search(self, query: str, limit: int = 100, filters: Filters | None = None) -> list[Candidate]:
        """Cosine similarity to the embedded query, best first."""
        return self.search_vector(self.embedder.embed_query(query), limit, filters)

    def search_vector(
        self, q: np.ndarray, limit: int = 100, filters: Filters | None = None, seqs: np.ndarray | None = None
    ) -> list[Candidate]:
        """Nearest passages to `q`; document filters run on the document id field (`seqs` is not needed)."""
        hits = self.client.search(
            self.collection,
            data=[np.asarray(q, dtype=np.float32).tolist()],
            anns_field="vector",
            limit=limit,
            filter=filter_expression(filters),
            search_params={"metric_type": "IP", "params": {"ef": max(64, limit)}},
            output_fields=["seq"],
            consistency_level=self.consistency,
        )[0]
        return [Candidate(int(h["seq"]), float(h["distance"])) for h in hits]

    def _rows(self, seqs: Sequence[int], fields: list[str]) -> list[dict[str, Any]]:
        if not len(seqs):
            return []
        expression = filter_expression(None, [int(s) for s in seqs])
        return list(
            self.client.query(
                self.collection, filter=expression, output_fields=["seq", *fields], consistency_level=self.consistency
            )
        )

    def facts(self, seqs: Sequence[int]) -> dict[int, tuple[EvidenceType, int | None]]:
        """Evidence type and year of those of these passages that the collection holds."""
        return {
            int(r["seq"]): (EVIDENCE_TYPES[r["etype"]], int(r["year"]) or None)
            for r in self._rows(seqs, ["etype", "year"])
        }

    def focus(self, seqs: Sequence[int], query_terms: Iterable[str]) -> dict[int, float]:
        """Title focus (as `hybrid.title_focus`) of those of these passages whose title terms the collection holds."""
        from bedside.index.vectors import term_key

        keys = {term_key(t) for t in query_terms}
        out: dict[int, float] = {}
        for r in self._rows(seqs, ["title_terms", "title_n"]):
            n = int(r["title_n"])
            if n >= 0:
                out[int(r["seq"])] = sum(int(t) in keys for t in r["title_terms"]) / n if n else 0.0
        return out
