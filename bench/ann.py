"""Approximate dense search on real vectors: recall and latency of bedside's graph (HNSW) and IVF lists.

    python bench/ann.py --data ../shared/data [--kb bench/out/medquad-bioasq-bge-small] [--queries 300]

bench/scale.py measures speed at 1M passages with synthetic vectors, which cluster more cleanly than real ones and
so flatter any approximate index. This script takes the real passage vectors of a knowledge base that
`bench/answers.py --latency` built (MedQuAD + BioASQ, embedded with the real model), embeds real dev questions of
BioASQ and MedQuAD with the same model, and reports for each index recall@10 and recall@100 against the exact scan
(the baseline, timed in the same process) and p50/p95 latency of a top-100 query, one query at a time.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import read_jsonl


def load_vectors(kb: Path) -> tuple[np.ndarray, str]:
    """All passage vectors stored in a knowledge base's dense index, and the model that made them."""
    path = kb / "vectors" / "vectors.sqlite"
    if not path.exists():
        raise SystemExit(f"{path}: not found; build it first with `python bench/answers.py --latency`")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    model = str(db.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()[0])
    vecs = np.stack([np.frombuffer(blob, dtype=np.float32) for (blob,) in db.execute("SELECT vec FROM vectors")])
    db.close()
    return np.ascontiguousarray(vecs), model


def questions(data: Path, n: int, seed: int) -> list[str]:
    """Half BioASQ, half MedQuAD dev questions, sampled with a fixed seed."""
    rng = random.Random(seed)
    out: list[str] = []
    for name in ("bioasq", "medquad"):
        texts = sorted({str(q["text"]) for q in read_jsonl(data / name / "queries.jsonl") if q["split"] == "dev"})
        out += rng.sample(texts, n // 2)
    return out


def main() -> None:
    from ivf import IvfIndex
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    from bedside.index.embedder import load_embedder
    from bedside.index.graph import GraphIndex, available

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared datasets folder")
    parser.add_argument("--kb", type=Path, default=Path("bench/out/medquad-bioasq-bge-small"), help="a data dir")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    vecs, model = load_vectors(args.kb)
    key = {"bge-small-en-v1.5": "bge-small"}.get(model)
    embedder = load_embedder(key) if key else None
    if embedder is None:
        raise SystemExit(f"{args.kb}: vectors of {model!r}, not a real model bedside ships")
    qs = questions(args.data, args.queries, args.seed)
    qvecs = np.stack([embedder.embed_query(q) for q in track(qs, description=f"embedding {len(qs)} questions")])
    console = Console(width=150)
    console.print(f"{len(vecs):,} real {model} passage vectors from {args.kb}; {len(qs)} real dev questions")

    def exact(q: np.ndarray, k: int) -> np.ndarray:
        scores = vecs @ q
        part = np.argpartition(-scores, k)[:k]
        return part[np.argsort(-scores[part])]

    truth, exact_ms = [], []
    for q in qvecs:
        start = time.perf_counter()
        truth.append(exact(q, 100))
        exact_ms.append((time.perf_counter() - start) * 1000)

    table = Table(title="top-100 dense search on real vectors, one query at a time (baseline: exact NumPy scan)")
    for col in ("index", "build s", "p50 ms", "p95 ms", "p50 vs exact", "recall@10", "recall@100"):
        table.add_column(col, justify="left" if col == "index" else "right")
    table.add_row(
        "exact scan (baseline)",
        "",
        f"{np.percentile(exact_ms, 50):.2f}",
        f"{np.percentile(exact_ms, 95):.2f}",
        "1.00x",
        "1.000",
        "1.000",
    )

    def measure(label: str, build_s: float, search: object) -> None:
        times, r10, r100 = [], [], []
        for q, t in zip(qvecs, truth, strict=True):
            start = time.perf_counter()
            rows = search(q)  # type: ignore[operator]
            times.append((time.perf_counter() - start) * 1000)
            r10.append(len(set(t[:10].tolist()) & set(rows[:10].tolist())) / 10)
            r100.append(len(set(t.tolist()) & set(rows.tolist())) / 100)
        p50, p95, base = np.percentile(times, 50), np.percentile(times, 95), np.percentile(exact_ms, 50)
        cells = (f"{build_s:.1f}", f"{p50:.2f}", f"{p95:.2f}", f"{p50 / base:.2f}x", f"{np.mean(r10):.3f}")
        table.add_row(label, *cells, f"{np.mean(r100):.3f}")

    if available():
        tmp = args.kb / "vectors" / "bench-ann.hnsw"
        start = time.perf_counter()
        GraphIndex.build(vecs, tmp)
        build_s = time.perf_counter() - start
        graph = GraphIndex.load(tmp)
        measure("HNSW graph (bedside default past 200k)", build_s, lambda q: graph.search(q, 100)[0])
        tmp.unlink()
    else:
        console.print("faiss is not installed: no graph row")
    start = time.perf_counter()
    ivf, order = IvfIndex.build(vecs)
    build_s = time.perf_counter() - start
    grouped = np.ascontiguousarray(vecs[order])
    base = ivf.nprobe
    for nprobe in (base, base * 2, base * 4):
        ivf.nprobe = nprobe
        label = f"IVF lists, nprobe {nprobe}/{len(ivf.centroids)}" + (" (fallback default)" if nprobe == base else "")
        measure(label, build_s, lambda q: order[ivf.search(grouped, q, 100)[0]])
    console.print(table)


if __name__ == "__main__":
    main()
