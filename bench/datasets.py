"""Loading the shared benchmark datasets and scoring rankings (shared by the bench scripts)."""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a .jsonl or .jsonl.gz file."""
    if not path.exists() and Path(str(path) + ".gz").exists():
        path = Path(str(path) + ".gz")
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        for line in f:
            if line.strip():
                yield json.loads(line)


def corpus_path(folder: Path) -> Path:
    """The corpus file of a dataset folder (plain or gzipped)."""
    plain = folder / "corpus.jsonl"
    return plain if plain.exists() else folder / "corpus.jsonl.gz"


def load_qrels(folder: Path) -> dict[str, dict[str, int]]:
    """query id -> {doc id: relevance}, relevant (>0) judgements only."""
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for row in read_jsonl(folder / "qrels.jsonl"):
        if int(row["relevance"]) > 0 and row.get("in_corpus", True) is not False:
            qrels[str(row["query_id"])][str(row["doc_id"])] = int(row["relevance"])
    return dict(qrels)


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    """nDCG@k with graded gains (BEIR / trec_eval convention: gain = relevance)."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    """Fraction of relevant documents found in the top k."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & set(relevant)) / len(relevant)
