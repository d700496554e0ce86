"""Ingestion throughput and peak memory, ours beside a minimal loader, each in a fresh process.

    python bench/ingest.py --corpus ../shared/data/medquad/corpus.jsonl.gz [--corpus ...]

bedside's figures cover the whole ingestion without embeddings: reading, chunking, content hashing, the SQLite
store and the lexical (tantivy) index. The baseline ("minimal") parses each JSON line and inserts its raw text
into SQLite in one transaction: no chunking, no hashing, no idempotency, no index. The ratio shows what
bedside's extra work costs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _worker(kind: str, corpus: Path, data: Path) -> dict[str, float]:
    start = time.perf_counter()
    if kind == "bedside":
        from bedside import Bedside
        from bedside.config import load_settings

        # The store plus the lexical (tantivy) index; no embeddings (bench/retrieval.py measures those).
        with Bedside(settings=load_settings(data_dir=data, starter_kb=False, embedder="none")) as b:
            report = b.ingest([corpus])
            docs, passages = report.added + report.updated + report.unchanged, report.passages
            failed = len(report.failed)
    else:
        db = sqlite3.connect(data / "minimal.sqlite")
        db.execute("CREATE TABLE d (id TEXT PRIMARY KEY, title TEXT, text TEXT)")
        opener = gzip.open if corpus.name.endswith(".gz") else open
        docs = passages = failed = 0
        with opener(corpus, "rb") as f, db:
            for line in f:
                r = json.loads(line)
                db.execute("INSERT OR REPLACE INTO d VALUES (?,?,?)", (str(r["id"]), r.get("title", ""), r["text"]))
                docs += 1
        passages = docs
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"docs": docs, "passages": passages, "failed": failed, "seconds": seconds, "peak_mb": peak_mb}


def _run(kind: str, corpus: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", kind, "--corpus", str(corpus), "--data", tmp],
            check=True,
            capture_output=True,
            text=True,
        )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", type=Path, required=True, help="JSONL corpus (repeatable)")
    parser.add_argument("--worker", choices=["bedside", "minimal"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.corpus[0], args.data)))
        return
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    table = Table(title="Ingestion (no embeddings), fresh process each")
    for col in ("corpus", "loader", "docs", "passages", "failed", "seconds", "docs/s", "passages/s", "peak MB"):
        table.add_column(col, justify="left" if col in ("corpus", "loader") else "right")
    jobs = [(c, k) for c in args.corpus for k in ("minimal", "bedside")]
    results: dict[tuple[Path, str], dict[str, float]] = {}
    for corpus, kind in track(jobs, description="benchmarking"):
        results[(corpus, kind)] = _run(kind, corpus)
    for corpus in args.corpus:
        for kind in ("minimal", "bedside"):
            r = results[(corpus, kind)]
            table.add_row(
                corpus.parent.name,
                kind,
                f"{r['docs']:.0f}",
                f"{r['passages']:.0f}",
                f"{r['failed']:.0f}",
                f"{r['seconds']:.2f}",
                f"{r['docs'] / r['seconds']:.0f}",
                f"{r['passages'] / r['seconds']:.0f}",
                f"{r['peak_mb']:.0f}",
            )
        ratio = results[(corpus, "bedside")]["seconds"] / results[(corpus, "minimal")]["seconds"]
        table.add_row(corpus.parent.name, "ratio bedside/minimal", "", "", "", f"{ratio:.2f}x", "", "", "")
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
