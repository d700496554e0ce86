"""Numeric drift of bge-small between ONNX Runtime versions, and whether dense retrieval notices it.

    python bench/drift.py embed OUT.npz [--data ../shared/data]     # under each runtime to compare
    python bench/drift.py compare A.npz B.npz [C.npz ...]          # under any of them

`embed` computes, with the onnxruntime installed in the running interpreter, the vectors of every starter passage
and of the dev questions of clinical_qa (as search queries), and writes them with the runtime's version. Run it in
one virtual environment per runtime version, e.g. `pip install -e '.[dense]' onnxruntime==1.20.1` in a fresh venv.
`compare` prints, for every pair of files: the min, 1st percentile and median cosine between the two runtimes'
vectors of the same passage, and, ranking every passage for every question by dense score, how many questions keep
the same top 1 and the mean overlap of their top 10 (each side with its own query vectors). The shipped file
(src/bedside/starter_kb) can be one of the files: it is ranked with the other side's query vectors, so its pairs show
passage drift alone. starter_kb.DRIFT_TOLERANCE is set from these figures.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from bedside import starter_kb
from bedside.config import load_settings
from bedside.facade import Bedside
from bedside.index.bge import BgeSmallEmbedder
from bedside.index.vectors import text_hash


def embed(out: Path, data: Path) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        Bedside(settings=load_settings(data_dir=tmp, starter_kb=True, embedder="none")) as b,
    ):
        b.ensure_starter_kb()
        texts = list(dict.fromkeys(r.embedding_text for r in b.store.index_rows(None)))
    path = data / "clinical_qa" / "queries.jsonl"
    questions = [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    model = BgeSmallEmbedder()
    queries = np.stack([model.embed_query(q) for q in questions])
    runtime = f"onnxruntime {importlib.metadata.version('onnxruntime')}"
    hashes = np.array([text_hash(t) for t in texts])
    np.savez(out, runtime=np.array(runtime), hashes=hashes, vectors=model.embed(texts), queries=queries)
    print(f"{runtime}: {len(texts)} passages, {len(questions)} queries -> {out}")


def _read(path: Path, queries: np.ndarray | None) -> tuple[str, dict[str, np.ndarray], np.ndarray | None]:
    with np.load(path, allow_pickle=False) as f:
        vectors = dict(zip((str(h) for h in f["hashes"]), np.asarray(f["vectors"], np.float32), strict=True))
        label = str(f["runtime"])
        if "queries" in f:
            return label, vectors, np.asarray(f["queries"], np.float32)
    return f"{label} (shipped)", vectors, queries  # the shipped file: its runtime's queries are not stored


def compare(paths: list[Path]) -> None:
    files = [_read(p, None) for p in paths]
    print(
        f"{'runtime A':<32} {'runtime B':<32} {'min cos':>8} {'p1 cos':>8} {'median':>8} {'same top1':>10} {'top10':>6}"
    )
    for (la, va, qa), (lb, vb, qb) in itertools.combinations(files, 2):
        keys = sorted(va.keys() & vb.keys())
        a = np.stack([va[k] for k in keys])
        b = np.stack([vb[k] for k in keys])
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        b /= np.linalg.norm(b, axis=1, keepdims=True)
        cos = np.sum(a * b, axis=1)
        # The shipped file holds no queries: it is ranked with the other side's, so only passage drift shows.
        qa, qb = (qa if qa is not None else qb), (qb if qb is not None else qa)
        assert qa is not None and qb is not None, "one file of each pair must hold queries (made by `embed`)"
        ra, rb = np.argsort(-(qa @ a.T), axis=1), np.argsort(-(qb @ b.T), axis=1)
        same1 = int(np.sum(ra[:, 0] == rb[:, 0]))
        overlap = float(np.mean([len(set(x[:10]) & set(y[:10])) / 10 for x, y in zip(ra, rb, strict=True)]))
        print(
            f"{la:<32} {lb:<32} {cos.min():>8.5f} {np.percentile(cos, 1):>8.5f} {np.median(cos):>8.5f} "
            f"{same1:>4}/{len(ra):<5} {overlap:>6.3f}"
        )
    print(f"starter_kb.DRIFT_TOLERANCE = {starter_kb.DRIFT_TOLERANCE}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed")
    e.add_argument("out", type=Path)
    e.add_argument("--data", type=Path, default=Path("../shared/data"))
    c = sub.add_parser("compare")
    c.add_argument("files", type=Path, nargs="+")
    args = p.parse_args(argv)
    if args.command == "embed":
        embed(args.out, args.data)
    else:
        compare(args.files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
