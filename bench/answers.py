"""Answer quality, citation precision and latency.

    python bench/answers.py --data ../shared/data --split test            # (a) gold snippets as evidence
    python bench/answers.py --data ../shared/data --split test --end-to-end   # (b) retrieval from the BioASQ corpus
    python bench/answers.py --latency                                       # ask latency, starter KB and 100k index
    python bench/answers.py --semantic-cost                                 # cost of the semantic agreement score

(a) BioASQ summary and yes/no questions of batches 7B-10B: bedside composes from exactly the gold snippets
(`ask(..., evidence=...)`); the first 40 words of its statements in reading order (bottom line first) are scored
with ROUGE-2 and ROUGE-SU4 F1 against the first ideal answer, beside the "first snippets" baseline (the first
40 words of the snippets in their given order). (b) retrieves from the whole BioASQ corpus instead.
Citation precision: the share of statements whose cited passage contains them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from datasets import corpus_path, read_jsonl
from rouge import first_words, rouge_2, rouge_su4

from bedside import Bedside
from bedside.config import load_settings
from bedside.model import Answer

BATCHES = ("7B", "8B", "9B", "10B")
CLINICAL = [
    "What is the treatment for concurrent iron and vitamin B12 deficiency?",
    "How is hyperkalaemia treated?",
    "What is the first-line treatment for gout flares?",
    "Which antibiotic for uncomplicated cystitis in women?",
    "How should DKA be managed in adults?",
    "What ferritin threshold confirms iron deficiency?",
    "How is community-acquired pneumonia treated?",
    "What blood pressure target applies in diabetes?",
    "How is anaphylaxis managed?",
    "When should a statin be started?",
    "Who needs anticoagulation in AF?",
    "How is hypothyroidism treated?",
]


def bioasq_questions(folder: Path, split: str) -> list[dict[str, Any]]:
    """Summary and yes/no questions of batches 7B-10B in one split, with their first ideal answer and snippets."""
    answers = {row["query_id"]: row for row in read_jsonl(folder / "answers.jsonl")}
    out = []
    for q in read_jsonl(folder / "queries.jsonl"):
        batch = str(q.get("bioasq_batch", ""))
        if q["type"] not in ("summary", "yesno") or q["split"] != split or not batch.startswith(BATCHES):
            continue
        a = answers.get(q["id"])
        if a and a.get("ideal_answer") and a.get("snippets"):
            out.append(
                {
                    "id": q["id"],
                    "text": q["text"],
                    "type": q["type"],
                    "ideal": a["ideal_answer"],
                    "snippets": a["snippets"],
                }
            )
    return out


def answer_text(answer: Answer) -> str:
    """Statements in reading order, bottom line first."""
    return " ".join(s.text for s in answer.statements())


def citation_precision(answer: Answer, passages: dict[str, str]) -> tuple[int, int]:
    """(statements contained in their cited passage, statements)."""
    good = total = 0
    for s in answer.statements():
        total += 1
        text = passages.get(s.provenance[0].passage_id, "")
        good += s.text[1:] in text
    return good, total


def run_quality(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    questions = bioasq_questions(args.data / "bioasq", args.split)[: args.max_questions or None]
    name = "bioasq-" + args.embedder
    settings = load_settings(
        data_dir=args.work / name, starter_kb=False, embedder=args.embedder, answer_semantic=args.semantic
    )
    b = Bedside(settings=settings)
    if args.end_to_end:
        b.ingest([corpus_path(args.data / "bioasq")])
    scores: dict[str, dict[str, list[float]]] = {"first snippets (baseline)": {}, "bedside": {}}
    precise = total = insufficient = 0
    for q in track(questions, description=f"answering {len(questions)} {args.split} questions"):
        snippets = q["snippets"]
        baseline = first_words(" ".join(s["text"] for s in snippets))
        if args.end_to_end:
            answer = b.ask(q["text"])
            passages = {
                p: b.store.passages([p])[p].text for s in answer.statements() for p in [s.provenance[0].passage_id]
            }
        else:
            evidence = [{"id": s["doc_id"], "text": s["text"]} for s in snippets]
            answer = b.ask(q["text"], evidence=evidence)
            passages = {f"{s['doc_id']}#{i}": s["text"] for i, s in enumerate(snippets)}
        insufficient += answer.insufficient_evidence
        good, n = citation_precision(answer, passages)
        precise, total = precise + good, total + n
        ours = first_words(answer_text(answer))
        for label, text in (("first snippets (baseline)", baseline), ("bedside", ours)):
            for metric, fn in (("ROUGE-2", rouge_2), ("ROUGE-SU4", rouge_su4)):
                scores[label].setdefault(f"{q['type']} {metric}", []).append(fn(text, q["ideal"]))
                scores[label].setdefault(f"all {metric}", []).append(fn(text, q["ideal"]))
    b.close()
    mode = "end to end (retrieval from the BioASQ corpus)" if args.end_to_end else "gold snippets as evidence"
    table = Table(title=f"BioASQ 7B-10B summary + yes/no, {args.split} split ({len(questions)} questions), {mode}")
    columns = sorted(next(iter(scores.values())))
    table.add_column("system")
    for c in columns:
        table.add_column(c, justify="right")
    for label, per in scores.items():
        table.add_row(label, *(f"{statistics.mean(per[c]):.4f}" for c in columns))
    base, ours_ = scores["first snippets (baseline)"], scores["bedside"]
    table.add_row(
        "ratio bedside/baseline",
        *(f"{statistics.mean(ours_[c]) / max(statistics.mean(base[c]), 1e-9):.2f}x" for c in columns),
    )
    console = Console(width=160)
    console.print(table)
    console.print(
        f"citation precision: {precise}/{total} = {precise / max(total, 1):.4f}; "
        f"insufficient-evidence answers: {insufficient}"
    )


def run_semantic_cost(args: argparse.Namespace) -> None:
    """What the composer's agreement-in-meaning score costs per answer on the starter KB: answers with it off, on
    with nothing cached (each question's sentences embedded for the first time) and on again (cached)."""
    from rich.console import Console

    from bedside.index.sentence_vectors import CachedEmbeddings

    starter = args.work / f"starter-{args.embedder}"
    settings = load_settings(data_dir=starter, embedder=args.embedder, answer_semantic=True)
    b = Bedside(settings=settings)
    b.ensure_starter_kb()
    questions = [q for q in CLINICAL if q]
    b.ask("How is asthma treated?")  # load the models
    embed = b.sentence_embed
    if embed is None:
        Console().print(f"the {args.embedder} embedder gives the composer no sentence vectors: nothing to measure")
        return
    rows = []
    cache = CachedEmbeddings(embed.embedder)  # empty: the first pass embeds, the second finds everything cached
    for label, composer_embed in (("off", None), ("on, cold", cache), ("on, cached", cache)):
        b.sentence_embed = composer_embed
        times = []
        for q in questions:
            t = time.perf_counter()
            b.ask(q)
            times.append((time.perf_counter() - t) * 1000)
        rows.append((label, statistics.median(times), max(times)))
    b.close()
    Console().print(
        "semantic agreement, starter KB, ask ms (p50 / max): "
        + "; ".join(f"{label} {p50:.0f} / {worst:.0f}" for label, p50, worst in rows)
    )


def _pct(xs: list[float], k: int) -> float:
    return statistics.quantiles(xs, n=100)[k - 1]


def run_latency(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    questions = [q["text"] for q in read_jsonl(args.data / "bioasq" / "queries.jsonl") if q["split"] == "dev"][:120]
    clinical = CLINICAL[:6]
    table = Table(title="ask latency, warm (ms); baseline: search alone in the same process")
    for col in ("knowledge base", "passages", "search p50", "search p95", "ask p50", "ask p95", "ask/search p50"):
        table.add_column(col, justify="left" if col == "knowledge base" else "right")
    kbs = [
        (
            "starter",
            load_settings(data_dir=args.work / f"starter-{args.embedder}", embedder=args.embedder),
            clinical * 10,
        )
    ]
    big = args.work / f"medquad-bioasq-{args.embedder}"
    kbs.append(
        (
            "MedQuAD + BioASQ",
            load_settings(data_dir=big, starter_kb=False, embedder=args.embedder),
            (clinical + questions)[:120],
        )
    )
    for label, settings, qs in kbs:
        b = Bedside(settings=settings)
        if label != "starter":
            b.ingest([corpus_path(args.data / "medquad"), corpus_path(args.data / "bioasq")])
        b.ensure_starter_kb()
        for q in qs[:5]:
            b.ask(q)  # warm up: models, caches
        search_ms, ask_ms = [], []
        for q in track(qs, description=f"{label}: timing"):
            t = time.perf_counter()
            b.search(q, 12)
            search_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            b.ask(q)
            ask_ms.append((time.perf_counter() - t) * 1000)
        s50, s95, a50, a95 = (_pct(search_ms, 50), _pct(search_ms, 95), _pct(ask_ms, 50), _pct(ask_ms, 95))
        table.add_row(
            label, str(b.store.counts()[1]), f"{s50:.1f}", f"{s95:.1f}", f"{a50:.1f}", f"{a95:.1f}", f"{a50 / s50:.2f}x"
        )
        b.close()
    Console(width=160).print(table)
    env = {"BEDSIDE_DATA_DIR": str(args.work / ("starter-" + args.embedder)), "BEDSIDE_EMBEDDER": args.embedder}
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bedside", "ask", clinical[0]],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        runs.append(time.perf_counter() - t)
    base = []
    for _ in range(5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        base.append(time.perf_counter() - t)
    Console().print(
        f"whole-process `bedside ask` on the starter KB: median {statistics.median(runs):.2f} s "
        f"(bare Python start-up: {statistics.median(base):.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--work", type=Path, default=Path("bench/out"))
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("--embedder", default="bge-small")
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--latency", action="store_true")
    parser.add_argument(
        "--semantic", action="store_true", help="Compose with the semantic agreement score (answer_semantic)."
    )
    parser.add_argument(
        "--semantic-cost", action="store_true", help="Only time answers with the semantic agreement score off/on."
    )
    parser.add_argument("--max-questions", type=int, default=0)
    args = parser.parse_args()
    if args.semantic_cost:
        run_semantic_cost(args)
    elif args.latency:
        run_latency(args)
    else:
        run_quality(args)


if __name__ == "__main__":
    main()
