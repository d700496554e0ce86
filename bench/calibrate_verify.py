"""Calibrate the statement verifier's thresholds (bedside.answer.verify.VerifyThresholds) on PubMedQA.

    .venv/bin/python bench/calibrate_verify.py [--data ../shared/data/pubmedqa] [--embedder bge-small|hashing]
                                               [--precision 0.98] [--scores bench/out/verify-scores.json]

Pairs, built per split from each question's long answer (the abstract's conclusion), one per sentence:
  supported    the sentence with its own abstract (which omits the conclusion, so this is a hard positive)
  unsupported  the same sentence with the most similar other abstract of the same split (TF-IDF cosine)
  corrupted    a supported sentence with one number changed (only sentences that contain a number)
  negated      a supported sentence with its polarity flipped ("did not improve" <-> "did improve"), where possible
Thresholds are chosen on split == "dev" only: the lowest lexical threshold whose lexical-only precision reaches
--precision, then the (cosine, lexical floor) pair with the best recall at that precision. Figures for
split == "test" use those thresholds unchanged. The baseline accepts every pair whose numbers check out.
Every figure is given with the polarity rule (VerifyThresholds.polarity) on and off.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import read_jsonl

from bedside.answer.evidence import EvidencePassage
from bedside.answer.verify import VerifyCache, VerifyThresholds, content_terms, verify_statement
from bedside.index.embedder import load_embedder
from bedside.index.protocols import F32, Embedder
from bedside.model import DocumentId, PassageId
from bedside.text.sentences import split

LEXICAL_GRID = [round(0.30 + 0.05 * i, 2) for i in range(14)]
COSINE_GRID = [round(0.50 + 0.05 * i, 2) for i in range(9)]
# Floors below a quarter would let cosine alone decide; we keep every accepted statement tied to its source's words.
FLOOR_GRID = [round(0.25 + 0.05 * i, 2) for i in range(6)]
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class Pair:
    kind: str  # "supported" | "unsupported" | "corrupted" | "negated"
    numbers_ok: bool
    lexical: float
    cosine: float | None


class MemoEmbedder:
    """Wraps an embedder so statements embedded in one batch up front are not re-embedded one by one."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.memo: dict[str, F32] = {}

    def prefill(self, texts: Sequence[str]) -> None:
        todo = sorted(set(texts) - set(self.memo))
        for text, row in zip(todo, self.inner.embed(todo, batch_size=64), strict=True):
            self.memo[text] = row

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> F32:
        return self.inner.embed(texts, batch_size=64)

    def embed_query(self, text: str) -> F32:
        return self.memo[text] if text in self.memo else self.inner.embed_query(text)


def load(folder: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Abstract text by id, split by id, long answer by id."""
    corpus = {str(r["id"]): r["text"] for r in read_jsonl(folder / "corpus.jsonl")}
    splits = {str(r["id"]): r["split"] for r in read_jsonl(folder / "queries.jsonl")}
    answers = {str(r["query_id"]): r["ideal_answer"] for r in read_jsonl(folder / "answers.jsonl")}
    return corpus, splits, answers


def nearest_other(ids: list[str], corpus: dict[str, str]) -> dict[str, str]:
    """For each abstract, the most similar other abstract among ids (TF-IDF over analysed terms, cosine)."""
    bags = [Counter(t for t in content_terms(corpus[i])) for i in ids]
    df = Counter(t for bag in bags for t in bag)
    vocab = {t: k for k, t in enumerate(df)}
    m = np.zeros((len(ids), len(vocab)), dtype=np.float32)
    for row, bag in enumerate(bags):
        for t, tf in bag.items():
            m[row, vocab[t]] = (1 + math.log(tf)) * math.log(len(ids) / df[t])
    m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-9)
    sims = m @ m.T
    np.fill_diagonal(sims, -1.0)
    return {ids[r]: ids[int(np.argmax(sims[r]))] for r in range(len(ids))}


def corrupt(sentence: str) -> str | None:
    """The sentence with its first number changed (integers +1 or doubled, decimals doubled), or None."""
    m = _NUMBER.search(sentence)
    if m is None:
        return None
    value = m.group(0)
    new = str(int(value) * 2 if int(value) > 2 else int(value) + 3) if value.isdigit() else f"{float(value) * 2:g}"
    return sentence[: m.start()] + new + sentence[m.end() :]


_NEGATED = re.compile(r"\b(not|no)\s+", re.IGNORECASE)
_AUXILIARY = re.compile(r"\b(is|are|was|were|may|can|could|should|does|did|has|have|will|would)\s+", re.IGNORECASE)


def flip(sentence: str) -> str | None:
    """The sentence with its first "not"/"no" removed, else "not" added after its first auxiliary verb, or None."""
    m = _NEGATED.search(sentence)
    if m is not None:
        return sentence[: m.start()] + sentence[m.end() :]
    m = _AUXILIARY.search(sentence)
    return None if m is None else sentence[: m.end()] + "not " + sentence[m.end() :]


def passage(doc_id: str, text: str) -> EvidencePassage:
    return EvidencePassage(PassageId(doc_id), DocumentId(doc_id), text, 0)


def score(
    text: str,
    p: EvidencePassage,
    embedder: Embedder | None,
    cache: VerifyCache,
    kind: str,
    context: float,
    polarity: bool,
) -> Pair:
    """Verify with the support thresholds at zero, so the verdict records the raw scores once the numbers pass."""
    v = verify_statement(text, [p], embedder, VerifyThresholds(0.0, 0.0, 0.0, context, polarity), cache=cache)
    return Pair(kind, v.ok, v.lexical, v.cosine)


def build_pairs(
    split_name: str,
    data: tuple[dict[str, str], dict[str, str], dict[str, str]],
    embedder: MemoEmbedder | None,
    cache: VerifyCache,
    context: float,
) -> dict[str, list[Pair]]:
    """Scored pairs with the polarity rule "on" and "off"."""
    corpus, splits, answers = data
    ids = sorted(i for i, s in splits.items() if s == split_name and i in corpus and i in answers)
    other = nearest_other(ids, corpus)
    jobs: list[tuple[str, str, str]] = []  # (statement, abstract id, kind)
    for i in ids:
        for sentence in split(answers[i]):
            if len(sentence.split()) < 5:
                continue
            jobs += [(sentence, i, "supported"), (sentence, other[i], "unsupported")]
            for kind, bad in (("corrupted", corrupt(sentence)), ("negated", flip(sentence))):
                if bad is not None:
                    jobs.append((bad, i, kind))
    if embedder is not None:
        embedder.prefill([s for s, _, _ in jobs])
        cache.prime([passage(d, corpus[d]) for d in sorted({d for _, d, _ in jobs})], embedder)
    return {
        mode: [score(s, passage(d, corpus[d]), embedder, cache, kind, context, mode == "on") for s, d, kind in jobs]
        for mode in ("on", "off")
    }


@dataclass(frozen=True, slots=True)
class Figures:
    precision: float
    recall: float
    unsupported_rejected: float
    corrupted_rejected: float
    negated_rejected: float

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def evaluate(pairs: list[Pair], t: VerifyThresholds | None, use_cosine: bool) -> Figures:
    """Precision and recall of supported vs unsupported; t None accepts whatever passes the number check."""

    def accepted(p: Pair) -> bool:
        return p.numbers_ok and (t is None or t.accepts(p.lexical, p.cosine if use_cosine else None))

    by = {k: [accepted(p) for p in pairs if p.kind == k] for k in ("supported", "unsupported", "corrupted", "negated")}
    tp, fp = sum(by["supported"]), sum(by["unsupported"])
    rate = {k: 1 - sum(v) / len(v) if v else 0.0 for k, v in by.items()}
    return Figures(
        tp / (tp + fp) if tp + fp else 1.0,
        tp / max(1, len(by["supported"])),
        rate["unsupported"],
        rate["corrupted"],
        rate["negated"],
    )


def choose(pairs: list[Pair], target: float, use_cosine: bool, polarity: bool) -> VerifyThresholds:
    """Lowest lexical threshold reaching the target precision alone; then the best-recall cosine/floor pair."""
    context = VerifyThresholds().number_context

    def make(lexical: float, cosine: float, floor: float) -> VerifyThresholds:
        return VerifyThresholds(lexical, cosine, floor, context, polarity)

    ok = [x for x in LEXICAL_GRID if evaluate(pairs, make(x, 2.0, 2.0), False).precision >= target]
    best = make(ok[0] if ok else LEXICAL_GRID[-1], 2.0, 2.0)
    if not use_cosine:
        return best
    best_recall = evaluate(pairs, best, True).recall
    for c in COSINE_GRID:
        for f in (f for f in FLOOR_GRID if f < best.lexical):
            fig = evaluate(pairs, make(best.lexical, c, f), True)
            if fig.precision >= target and fig.recall > best_recall:
                best, best_recall = make(best.lexical, c, f), fig.recall
    return best


def row(name: str, split_name: str, fig: Figures, base: Figures) -> str:
    ratio = fig.precision / base.precision if base.precision else 0.0
    return (
        f"| {name:<34} | {split_name:<4} | {base.precision:9.3f} | {fig.precision:9.3f} | {ratio:5.2f} "
        f"| {fig.recall:6.3f} | {fig.f1:5.3f} | {fig.unsupported_rejected:11.3f} | {fig.corrupted_rejected:9.3f} "
        f"| {fig.negated_rejected:8.3f} |"
    )


Pairs = dict[str, dict[str, list[Pair]]]  # split -> polarity rule "on"/"off" -> pairs


def score_all(args: argparse.Namespace, inner: Embedder) -> Pairs:
    """Score every pair, or read the scores cached by an earlier run with the same --scores file."""
    if args.scores and args.scores.exists():
        cached = json.loads(args.scores.read_text())
        return {s: {m: [Pair(**p) for p in ps] for m, ps in modes.items()} for s, modes in cached.items()}
    data = load(args.data)
    embedder, cache = MemoEmbedder(inner), VerifyCache()
    pairs = {s: build_pairs(s, data, embedder, cache, args.number_context) for s in ("dev", "test")}
    if args.scores:
        out = {s: {m: [asdict(p) for p in ps] for m, ps in modes.items()} for s, modes in pairs.items()}
        args.scores.write_text(json.dumps(out))
    return pairs


def report(pairs: Pairs, embedder_name: str, target: float) -> None:
    """The dev sweep, the thresholds chosen on dev, and the dev/test table, with the polarity rule on and off."""
    print("lexical-only sweep on dev: threshold, precision/recall with the polarity rule on, then off")
    for x in LEXICAL_GRID:
        on, off = (evaluate(pairs["dev"][m], VerifyThresholds(x, 2.0, 2.0), False) for m in ("on", "off"))
        print(f"  {x:.2f}  {on.precision:.3f}/{on.recall:.3f}  {off.precision:.3f}/{off.recall:.3f}")
    print(
        f"\n| verifier (baseline: numbers only; chosen on dev at precision >= {target}) | split | base prec "
        "| precision | ratio | recall |  F1   | unsupp. rej | corr. rej | neg. rej |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    chosen = []
    for mode in ("on", "off"):
        for name, cos in (("lexical only", False), (f"lexical + {embedder_name}", True)):
            t = choose(pairs["dev"][mode], target, cos, mode == "on")
            chosen.append(f"polarity {mode}, {name}: {t}")
            for s in ("dev", "test"):
                base = evaluate(pairs[s][mode], None, False)
                print(row(f"{name}, polarity {mode}", s, evaluate(pairs[s][mode], t, cos), base))
    print("\nchosen on dev:\n  " + "\n  ".join(chosen))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/pubmedqa"))
    ap.add_argument("--embedder", default="bge-small", choices=("bge-small", "hashing"))  # the retrieval model
    ap.add_argument("--precision", type=float, default=0.98, help="target precision on dev")
    ap.add_argument(
        "--number-context",
        type=float,
        default=VerifyThresholds().number_context,
        help="share of a statement's terms a number's sentence window must hold",
    )
    ap.add_argument("--scores", type=Path, help="cache of the pairs' scores: read if present, else written")
    args = ap.parse_args()
    started = time.perf_counter()
    inner = load_embedder(args.embedder)
    assert inner is not None
    pairs = score_all(args, inner)
    counts = {s: dict(Counter(p.kind for p in modes["on"])) for s, modes in pairs.items()}
    print(f"pairs: {counts}  embedder: {inner.name}  ({time.perf_counter() - started:.0f} s)\n")
    report(pairs, inner.name, args.precision)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
