"""Retrieval quality and speed: bedside's lexical, dense and hybrid rankings beside a bm25s peer.

    python bench/retrieval.py --data ../shared/data --sets scifact,bioasq,medquad
    python bench/retrieval.py --data ../shared/data --sets scifact --embedder bge-small   # the stronger dense model

Each dataset's corpus is ingested into a cached bedside data directory under --work (re-runs reuse it).
Passage hits are aggregated to documents by their best passage. The peer is bm25s with English stemming and
stop words over title + text. Reported per query subset: nDCG@10, recall@100, queries.
Tune on `dev`; report `test` (and, for SciFact, the 300 standard BEIR test claims).
`--rerank` adds the hybrid with the sentence rerank stage; the first run embeds the sentences of every passage that
reaches a rerank window (cached in the data directory afterwards).
`--backends embedded,milvus-lite` runs the same rankings on each search backend in one run (Milvus Lite in a file
under --work; the Milvus dense collection takes the embedded index's vectors, so only the backend differs):

    python bench/retrieval.py --data ../shared/data --sets scifact --subsets dev --backends embedded,milvus-lite
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import corpus_path, load_qrels, ndcg_at, read_jsonl, recall_at

from bedside import Bedside
from bedside.index.hybrid import FusionConfig

Ranker = Callable[[str], list[str]]


def peer_ranker(folder: Path) -> Ranker:
    """bm25s over title + text with the Snowball English stemmer and English stop words."""
    import bm25s
    import Stemmer

    ids, texts = [], []
    for row in read_jsonl(corpus_path(folder)):
        ids.append(str(row["id"]))
        texts.append(f"{row.get('title') or ''} {row.get('text') or ''}")
    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    k = min(100, len(ids))

    def rank(query: str) -> list[str]:
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, show_progress=False)
        if not tokens.vocab:
            return []
        docs, _ = retriever.retrieve(tokens, k=k, show_progress=False)
        return [ids[i] for i in docs[0]]

    return rank


def bedside_ranker(b: Bedside, config: FusionConfig, depth: int = 300) -> Ranker:
    """Documents ranked by their best passage under one fusion configuration (no priors)."""
    config = replace(config, depth=depth, priors=False)

    def rank(query: str) -> list[str]:
        hits = b.searcher.search(query, depth, None, config)
        return list(dict.fromkeys(h.document_id for h in hits))[:100]  # hits are best first

    return rank


def queries_for(folder: Path, name: str, limit: int | None) -> dict[str, list[tuple[str, str]]]:
    """Query subsets: dev, test, and for SciFact the BEIR test claims; (id, text) pairs with judgements."""
    qrels = load_qrels(folder)
    subsets: dict[str, list[tuple[str, str]]] = {"dev": [], "test": []}
    if name == "scifact":
        subsets["beir-300"] = []
    for row in read_jsonl(folder / "queries.jsonl"):
        qid = str(row["id"])
        if qid not in qrels:
            continue
        subsets[row["split"]].append((qid, row["text"]))
        if name == "scifact" and row.get("scifact_split") == "validation":
            subsets["beir-300"].append((qid, row["text"]))
    if limit:
        subsets = {k: v[:limit] for k, v in subsets.items()}
    return subsets


def evaluate(rank: Ranker, queries: list[tuple[str, str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    ndcg, recall, times = [], [], []
    for qid, text in queries:
        start = time.perf_counter()
        ranked = rank(text)
        times.append(time.perf_counter() - start)
        ndcg.append(ndcg_at(ranked, qrels[qid]))
        recall.append(recall_at(ranked, qrels[qid]))
    return {
        "ndcg@10": float(np.mean(ndcg)) if ndcg else 0.0,
        "recall@100": float(np.mean(recall)) if recall else 0.0,
        "p50_ms": float(np.percentile(times, 50) * 1000) if times else 0.0,
        "n": len(queries),
    }


def open_dataset(folder: Path, work: Path, embedder: str, backend: str = "embedded") -> Bedside:
    from bedside.config import load_settings

    embedded_dir = work / f"{folder.name}-{embedder}"
    if backend == "embedded":
        settings = load_settings(data_dir=embedded_dir, starter_kb=False, embedder=embedder)
    else:
        settings = load_settings(
            data_dir=work / f"{folder.name}-{embedder}-{backend}",
            starter_kb=False,
            embedder=embedder,
            search_backend="milvus",
        )
    b = Bedside(settings=settings)
    if backend != "embedded" and b.dense is not None:
        b.dense.seed = embedded_vectors(embedded_dir / "vectors" / "vectors.sqlite")  # type: ignore[misc]
    from rich.console import Console

    Console(stderr=True).print(
        f"[bold]{folder.name}[/bold] ({backend}): ingesting and indexing (cached after the first run)"
    )
    from bedside.cli.context import BarProgress, SyncBar

    b.set_sync_progress(SyncBar())
    report = b.ingest([corpus_path(folder)], progress=BarProgress())
    if report.failed:
        print(f"{folder.name}: {len(report.failed)} records failed to ingest", file=sys.stderr)
    return b


def embedded_vectors(path: Path) -> dict[str, np.ndarray]:
    """The embedded index's vectors by passage-text hash (what a Milvus dense collection is seeded with)."""
    import sqlite3

    if not path.exists():
        return {}
    with sqlite3.connect(path) as db:
        return {h: np.frombuffer(v, dtype=np.float32) for h, v in db.execute("SELECT text_hash, vec FROM vectors")}


VARIANTS: dict[str, FusionConfig] = {
    "bedside lexical": FusionConfig(dense_weight=0.0, title_weight=0.0),
    "bedside dense": FusionConfig(dense_weight=1.0, title_weight=0.0),
    "bedside hybrid rrf": FusionConfig(method="rrf", title_weight=0.0),
    "bedside hybrid, no title focus": FusionConfig(title_weight=0.0),
    "bedside hybrid": FusionConfig(),
}
RERANKED: dict[str, FusionConfig] = {
    "bedside hybrid + sentence rerank": FusionConfig(rerank_depth=100),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", default="scifact,bioasq,medquad")
    parser.add_argument("--work", type=Path, default=Path("bench/out"))
    parser.add_argument("--embedder", default="bge-small")
    parser.add_argument("--max-queries", type=int, default=None, help="Cap each subset (e.g. for MedQuAD).")
    parser.add_argument("--subsets", default="", help="Comma list of subsets to report (default: all).")
    parser.add_argument("--dense-weight", type=float, default=None, help="Override the hybrid dense weight.")
    parser.add_argument("--title-weight", type=float, default=None, help="Override the hybrid title weight.")
    parser.add_argument(
        "--rerank",
        action="store_true",
        help="Also run the sentence rerank stage (embeds each candidate passage's sentences once; slow when cold).",
    )
    parser.add_argument("--rerank-depth", type=int, default=None, help="Override the rerank window (passages).")
    parser.add_argument("--backends", default="embedded", help="Comma list of search backends: embedded, milvus-lite")
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    if args.dense_weight is not None:
        VARIANTS["bedside hybrid"] = replace(VARIANTS["bedside hybrid"], dense_weight=args.dense_weight)
    if args.title_weight is not None:
        VARIANTS["bedside hybrid"] = replace(VARIANTS["bedside hybrid"], title_weight=args.title_weight)
    if args.rerank_depth is not None:
        RERANKED["bedside hybrid + sentence rerank"] = FusionConfig(rerank_depth=args.rerank_depth)
    console = Console(width=160)
    for name in args.sets.split(","):
        folder = args.data / name
        qrels = load_qrels(folder)
        subsets = queries_for(folder, name, args.max_queries or (2000 if name == "medquad" else None))
        if args.subsets:
            subsets = {k: v for k, v in subsets.items() if k in args.subsets.split(",")}
        rankers: dict[str, Ranker] = {}
        try:
            rankers["peer bm25s"] = peer_ranker(folder)
        except ImportError:
            print(
                "bm25s is not installed: the peer is left out (ratios are to the first bedside ranking)",
                file=sys.stderr,
            )
        backends = [x.strip() for x in args.backends.split(",") if x.strip()]
        opened = []
        for backend in backends:  # the embedded one first: a Milvus backend takes its vectors
            b = open_dataset(folder, args.work, args.embedder, backend)
            opened.append(b)
            variants = VARIANTS | (RERANKED if args.rerank else {})
            if args.dense_weight is None:  # hybrids fuse with the weight bedside uses for this dense model
                weight = b.searcher.config.dense_weight
                variants = {
                    k: replace(v, dense_weight=weight) if 0 < v.dense_weight < 1 else v for k, v in variants.items()
                }
            tag = f" ({backend})" if len(backends) > 1 else ""
            rankers |= {f"{label}{tag}": bedside_ranker(b, cfg) for label, cfg in variants.items()}
        table = Table(title=f"{name}: document retrieval ({b.store.counts()[1]} passages)")
        table.add_column("system")
        for subset, qs in subsets.items():
            table.add_column(f"{subset} nDCG@10 (n={len(qs)})", justify="right")
            table.add_column(f"{subset} R@100", justify="right")
        table.add_column("ratio to peer (nDCG, first subset)", justify="right")
        table.add_column("p50 ms", justify="right")
        results: dict[str, dict[str, dict[str, Any]]] = {}
        for label, rank in rankers.items():
            results[label] = {s: evaluate(rank, qs, qrels) for s, qs in subsets.items()}
        first = next(iter(subsets))
        for label, per in results.items():
            cells = []
            for s in subsets:
                cells += [f"{per[s]['ndcg@10']:.3f}", f"{per[s]['recall@100']:.3f}"]
            base = results.get("peer bm25s") or next(iter(results.values()))
            ratio = per[first]["ndcg@10"] / max(base[first]["ndcg@10"], 1e-9)
            table.add_row(label, *cells, f"{ratio:.2f}x", f"{per[first]['p50_ms']:.1f}")
        console.print(table)
        for b in opened:
            b.close()


if __name__ == "__main__":
    main()
