"""Answer quality on clinician questions (clinical_qa) over the starter knowledge base, beside a baseline release.

    python bench/clinical.py --data ../shared/data                          # dev questions, beside 06f0d53
    python bench/clinical.py --queries bench/data/clinical_extra.jsonl      # our own extra questions
    python bench/clinical.py --data ../shared/data --no-baseline --verbose --json bench/out/clinical.json

Each question is asked of one fresh starter knowledge base (temporary data directory, default embedder) and scored
from the answer JSON (`Answer.to_dict()`), as the dataset README defines:
- covered questions: coverage, the share of `items` regexes found (case-insensitive) in the bottom line and the
  statements, each statement searched as its own line, never the title; precision, the share of statements whose
  provenance documents are all in `allowed_docs`, pooled over the statements of all covered questions; bottom line,
  every bottom-line statement from an allowed document, and the bottom line matches at least one item and no
  `must_not`; answered, not `insufficient_evidence`;
- uncovered questions: abstained, `insufficient_evidence` or no statements;
- must-not hits: `must_not` patterns found in bottom lines, counted over all questions;
- near-duplicate statement pairs (the same numbers, words overlapping by a Jaccard of 0.6 or more) and signpost
  statements (a sentence that only says which guideline covers what), counted over all answers;
- reading grade: Flesch-Kincaid grade of the statements of the clinician answer and of the patient answer (the
  question asked again with audience "patient"), mean over covered, answered questions.
Wall time is the clinician `ask` per question, after loading the knowledge base and one warm-up question.

The baseline is the same measurement of another commit's src/ (`git archive` into a temporary folder), made by this
script in a subprocess whose PYTHONPATH points there (`--measure-only`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from datasets import read_jsonl

BASELINE_REF = "06f0d53"  # the release before the answer-engine rework
REPO = Path(__file__).resolve().parent.parent
WARM_UP = "How is community-acquired pneumonia treated?"

# -- scoring (pure, on the answer JSON) -----------------------------------------------------------------------------


def statements(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Every statement in reading order, bottom line first."""
    return list(answer.get("bottom_line", [])) + [s for sec in answer.get("sections", []) for s in sec["statements"]]


def documents(statement: dict[str, Any]) -> set[str]:
    return {p["document_id"] for p in statement.get("provenance", [])}


def from_allowed(statement: dict[str, Any], allowed: set[str]) -> bool:
    """Whether the statement has provenance and all of it is in allowed documents."""
    docs = documents(statement)
    return bool(docs) and docs <= allowed


def found(patterns: dict[str, str], text: str) -> list[str]:
    """Names of the patterns that occur in text (case-insensitive)."""
    return [name for name, rx in patterns.items() if re.search(rx, text, re.IGNORECASE)]


def reading_grade(answer: dict[str, Any]) -> float | None:
    """Flesch-Kincaid grade of the answer's statements; None without statements."""
    import textstat

    texts = [s["text"].strip() for s in statements(answer) if s["text"].strip()]
    if not texts:
        return None
    return float(textstat.flesch_kincaid_grade(" ".join(t if t[-1] in ".!?" else t + "." for t in texts)))


_WORD = re.compile(r"[a-z0-9]+")
# A sentence that only says which guideline covers what (the same rule the composer applies, kept here so the
# baseline's answers are measured the same way).
_SIGNPOST = re.compile(
    r"\b(?:guideline|guidance|update|report|consensus|standards|statement|NG\d+|CG\d+)\s+(?:[\w/-]+\s+){0,6}?"
    r"(?:also\s+)?(?:covers|addresses|applies(?!\s+to\b)|discusses|deals with|sets out)\b",
    re.I,
)


_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def duplicate_pairs(texts: list[str], threshold: float = 0.6) -> int:
    """Pairs of statements with the same numbers whose words (lower-cased, 3+ letters) overlap by at least
    `threshold` (Jaccard): the same fact twice. Sentences that differ in a number state different facts."""
    words = [{w for w in _WORD.findall(t.lower()) if len(w) > 2} for t in texts]
    numbers = [_NUMBER.findall(t) for t in texts]
    return sum(
        1
        for i in range(len(words))
        for j in range(i + 1, len(words))
        if words[i]
        and words[j]
        and numbers[i] == numbers[j]
        and len(words[i] & words[j]) / len(words[i] | words[j]) >= threshold
    )


def score(q: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """One question's measures from its clinician answer."""
    sts, bottom = statements(answer), answer.get("bottom_line", [])
    allowed = set(q["allowed_docs"])
    bottom_text = "\n".join(s["text"] for s in bottom)
    matched = found(q["items"], "\n".join(s["text"] for s in sts))
    off_topic = [{"docs": sorted(documents(s)), "text": s["text"]} for s in sts if not from_allowed(s, allowed)]
    bl_allowed = bool(bottom) and all(from_allowed(s, allowed) for s in bottom)
    bl_items = found(q["items"], bottom_text)
    must_not = found(q["must_not"], bottom_text)
    return {
        "id": q["id"],
        "question": q["question"],
        "covered": q["covered"],
        "type": q["type"],
        "allowed_docs": q["allowed_docs"],
        "insufficient_evidence": bool(answer.get("insufficient_evidence")),
        "statements": len(sts),
        "bottom_line": [s["text"] for s in bottom],
        "docs": sorted(set().union(*map(documents, sts))),
        "references": [r["document_id"] for r in answer.get("references", [])],
        "items_matched": matched,
        "items_missed": [n for n in q["items"] if n not in matched],
        "on_topic": len(sts) - len(off_topic),
        "off_topic": off_topic,
        "bottom_line_allowed": bl_allowed,
        "bottom_line_items": bl_items,
        "must_not_hits": must_not,
        "bottom_line_ok": bl_allowed and bool(bl_items) and not must_not,
        "duplicate_pairs": duplicate_pairs([s["text"] for s in sts]),
        "signposts": sum(bool(_SIGNPOST.search(s["text"])) for s in sts),
    }


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of the table, from per-question results."""
    cov = [r for r in results if r["covered"]]
    unc = [r for r in results if not r["covered"]]
    n_items = sum(len(r["items_matched"]) + len(r["items_missed"]) for r in cov)
    n_sts = sum(r["statements"] for r in cov)
    graded = [r for r in cov if r.get("grade_clinician") is not None and r.get("grade_patient") is not None]
    walls = [r["wall_s"] for r in results if "wall_s" in r]
    return {
        "covered": len(cov),
        "uncovered": len(unc),
        "coverage": _mean(
            [len(r["items_matched"]) / max(len(r["items_matched"]) + len(r["items_missed"]), 1) for r in cov]
        ),
        "coverage_pooled": sum(len(r["items_matched"]) for r in cov) / n_items if n_items else None,
        "precision": sum(r["on_topic"] for r in cov) / n_sts if n_sts else None,
        "precision_per_question": _mean([r["on_topic"] / r["statements"] for r in cov if r["statements"]]),
        "bottom_line": sum(r["bottom_line_ok"] for r in cov),
        "answered": sum(not r["insufficient_evidence"] for r in cov),
        "abstained": sum(r["insufficient_evidence"] or r["statements"] == 0 for r in unc),
        "must_not_hits": sum(len(r["must_not_hits"]) for r in results),
        "duplicate_pairs": sum(r.get("duplicate_pairs", 0) for r in results),
        "signposts": sum(r.get("signposts", 0) for r in results),
        "graded": len(graded),
        "grade_clinician": _mean([r["grade_clinician"] for r in graded]),
        "grade_patient": _mean([r["grade_patient"] for r in graded]),
        "wall_mean_s": _mean(walls),
        "wall_p50_s": statistics.median(walls) if walls else None,
        "wall_max_s": max(walls) if walls else None,
    }


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


# -- measuring ------------------------------------------------------------------------------------------------------


def load_questions(path: Path, split: str | None) -> list[dict[str, Any]]:
    questions = [q for q in read_jsonl(path) if split is None or q.get("split") == split]
    if not questions:
        sys.exit(f"no questions in {path}" + (f" for split {split!r}" if split else ""))
    return questions


def measure(questions: list[dict[str, Any]], console: Any) -> dict[str, Any]:
    """Ask every question of one fresh starter knowledge base; per-question results and the setup time."""
    from rich.progress import track

    from bedside import Bedside

    results = []
    with tempfile.TemporaryDirectory(prefix="bedside-clinical-") as tmp:
        start = time.perf_counter()
        b = Bedside(data_dir=Path(tmp) / "data", starter_kb=True)
        b.ensure_starter_kb()
        b.ask(WARM_UP)  # load the models
        setup = time.perf_counter() - start
        try:
            for q in track(questions, description=f"asking {len(questions)} questions", console=console):
                t = time.perf_counter()
                answer = b.ask(q["question"]).to_dict()
                wall = time.perf_counter() - t
                r = score(q, answer) | {"wall_s": wall, "grade_clinician": None, "grade_patient": None}
                if q["covered"] and not r["insufficient_evidence"]:
                    r["grade_clinician"] = reading_grade(answer)
                    r["grade_patient"] = reading_grade(b.ask(q["question"], audience="patient").to_dict())
                results.append(r)
        finally:
            b.close()
    return {"setup_s": setup, "questions": results, "summary": summarise(results)}


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout.strip()


def measure_baseline(ref: str, queries: Path, split: str | None, console: Any) -> dict[str, Any]:
    """The same measurement of `ref`'s src/, in a subprocess that imports bedside from an exported copy of it."""
    with tempfile.TemporaryDirectory(prefix="bedside-baseline-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", "--format=tar", ref, "src"], check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        src, out = Path(tmp) / "src", Path(tmp) / "baseline.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--measure-only",
            "--queries",
            str(queries.resolve()),
            "--json",
            str(out),
            "--expect-src",
            str(src),
        ] + (["--split", split] if split else [])
        console.print(f"baseline {ref}: measuring in a subprocess (bedside imported from `git archive {ref} src`)")
        subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": str(src)})
        result: dict[str, Any] = json.loads(out.read_text())
        return result


# -- report ---------------------------------------------------------------------------------------------------------


def _fmt(key: str, s: dict[str, Any] | None) -> str:
    if s is None or s.get(key) is None:
        return "-"
    v = s[key]
    if key in ("bottom_line", "answered"):
        return f"{v}/{s['covered']} ({v / max(s['covered'], 1):.0%})"
    if key == "abstained":
        return f"{v}/{s['uncovered']} ({v / max(s['uncovered'], 1):.0%})" if s["uncovered"] else "-"
    if key in ("must_not_hits", "duplicate_pairs", "signposts"):
        return str(v)
    if key.startswith("wall"):
        return f"{v:.2f}"
    return f"{v:.1f}" if key.startswith("grade") else f"{v:.3f}"


def _met(key: str, s: dict[str, Any]) -> bool | None:
    v = s.get(key)
    if v is None:
        return None
    checks: dict[str, Callable[[], bool | None]] = {
        "coverage": lambda: v >= 0.90,
        "precision": lambda: v >= 0.95,
        "bottom_line": lambda: v >= 0.9 * s["covered"],
        "answered": lambda: v == s["covered"],
        "abstained": lambda: v == s["uncovered"] if s["uncovered"] else None,
        "must_not_hits": lambda: v == 0,
        "duplicate_pairs": lambda: v == 0,
        "signposts": lambda: v == 0,
        "grade_patient": lambda: s["grade_clinician"] is not None and v <= s["grade_clinician"] - 3,
    }
    return checks[key]() if key in checks else None


ROWS = [
    ("coverage (mean share of key facts)", "coverage", ">= 0.90"),
    ("coverage, pooled over items", "coverage_pooled", ""),
    ("precision (statements from allowed docs)", "precision", ">= 0.95"),
    ("precision, mean per question", "precision_per_question", ""),
    ("bottom line correct", "bottom_line", ">= 90% of covered"),
    ("answered (covered)", "answered", "100%"),
    ("abstained (uncovered)", "abstained", "100%"),
    ("must-not hits in bottom lines", "must_not_hits", "0"),
    ("near-duplicate statement pairs", "duplicate_pairs", "0"),
    ("signpost statements", "signposts", "0"),
    ("reading grade, clinician", "grade_clinician", ""),
    ("reading grade, patient", "grade_patient", "<= clinician - 3"),
    ("wall time per question, mean (s)", "wall_mean_s", ""),
    ("wall time per question, p50 (s)", "wall_p50_s", ""),
    ("wall time per question, max (s)", "wall_max_s", ""),
]


def ratio(key: str, now: dict[str, Any], base: dict[str, Any] | None) -> str:
    if base is None or now.get(key) is None or not base.get(key):
        return "-"
    return f"{now[key] / base[key]:.2f}x"


def print_table(title: str, now: dict[str, Any], base: dict[str, Any] | None, base_label: str, console: Any) -> None:
    from rich.table import Table

    table = Table(title=title)
    columns = (
        ("measure", base_label, "now", "target", "met", "now/baseline") if base else ("measure", "now", "target", "met")
    )
    for col in columns:
        table.add_column(col, justify="left" if col in ("measure", "target") else "right")
    for label, key, target in ROWS:
        mark = {True: "yes", False: "no", None: ""}[_met(key, now)]
        cells = [_fmt(key, now), target, mark]
        table.add_row(label, *([_fmt(key, base), *cells, ratio(key, now, base)] if base else cells))
    console.print(table)


def print_details(results: list[dict[str, Any]], console: Any) -> None:
    """Per question: what was missed, what was off-topic, what a bottom line said that it must not."""
    for r in results:
        if r["covered"]:
            n = len(r["items_matched"]) + len(r["items_missed"])
            state = "answered"
            if r["insufficient_evidence"]:
                near = "among" if set(r["references"]) & set(r["allowed_docs"]) else "not among"
                state = f"insufficient (an allowed doc is {near} the closest material)"
            console.print(
                f"[bold]{r['id']}[/bold] {r['type']} {state}: items {len(r['items_matched'])}/{n}, "
                f"on-topic {r['on_topic']}/{r['statements']}, bottom line "
                f"{'ok' if r['bottom_line_ok'] else 'NOT ok'}, {r['wall_s']:.2f} s",
                highlight=False,
            )
            if r["items_missed"]:
                console.print(f"   missed: {', '.join(r['items_missed'])}", highlight=False)
            if r["bottom_line"] and not r["bottom_line_allowed"]:
                console.print("   bottom line cites a document outside allowed_docs", highlight=False)
            for off in r["off_topic"]:
                console.print(
                    f"   off-topic [{', '.join(off['docs'])}] {off['text'][:90]}", highlight=False, markup=False
                )
        else:
            abstained = r["insufficient_evidence"] or r["statements"] == 0
            console.print(
                f"[bold]{r['id']}[/bold] uncovered: {'abstained' if abstained else 'ANSWERED'} "
                f"({r['statements']} statements from {', '.join(r['docs']) or 'nothing'})",
                highlight=False,
            )
        for name in r["must_not_hits"]:
            console.print(
                f"   must-not in bottom line: {name}: {' '.join(r['bottom_line'])[:100]}", markup=False, highlight=False
            )


# -- main -----------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--queries", type=Path, help="a questions file (default: <data>/clinical_qa/queries.jsonl)")
    parser.add_argument("--split", help="only questions of this split (e.g. dev)")
    parser.add_argument("--baseline", default=BASELINE_REF, help="the commit to measure beside the working tree")
    parser.add_argument("--no-baseline", action="store_true", help="measure the working tree only")
    parser.add_argument("--verbose", action="store_true", help="per-question detail")
    parser.add_argument("--json", type=Path, help="write every per-question result here")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--expect-src", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from rich.console import Console

    console = Console(width=160)
    queries = args.queries or args.data / "clinical_qa" / "queries.jsonl"
    questions = load_questions(queries, args.split)
    if args.measure_only:
        measure_only(questions, args)
        return
    base = None
    if not args.no_baseline:
        base = measure_baseline(args.baseline, queries, args.split, Console(stderr=True))
    now = measure(questions, Console(stderr=True))
    if args.verbose:
        print_details(now["questions"], console)
    head, ref = git("rev-parse", "--short", "HEAD"), git("rev-parse", "--short", f"{args.baseline}^{{commit}}")
    changed = "src/ changed since" if git("diff", "--stat", args.baseline, "--", "src") else "src/ identical to"
    n_cov, n_unc = now["summary"]["covered"], now["summary"]["uncovered"]
    title = (
        f"{queries.name}{f' ({args.split})' if args.split else ''}: {n_cov} covered + {n_unc} uncovered "
        f"questions, starter KB; now = working tree at {head}"
    )
    print_table(title, now["summary"], base["summary"] if base else None, f"baseline {ref}", console)
    if base:
        console.print(f"working tree {changed} the baseline {ref}", highlight=False)
    console.print(
        f"setup (load starter KB + warm-up ask): {now['setup_s']:.1f} s; reading grade over "
        f"{now['summary']['graded']} covered answered questions",
        highlight=False,
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"queries": str(queries), "now": now, "baseline": base}, indent=1))


def measure_only(questions: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """The subprocess side of the baseline: check which bedside is imported, measure, write JSON."""
    from rich.console import Console

    import bedside

    if args.expect_src and not Path(bedside.__file__).resolve().is_relative_to(args.expect_src.resolve()):
        sys.exit(f"expected bedside from {args.expect_src}, imported {bedside.__file__}")
    result = measure(questions, Console(stderr=True))
    if args.json:
        args.json.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
