"""Checking a generated statement against the passages it cites: numbers first, then lexical and dense support.

A statement passes only if every quantity in it appears in a cited passage (doses, ranges, thresholds,
percentages, durations, plain numbers) and enough of its content is found in one cited sentence and its
neighbours, or is close to one cited sentence in embedding space while sharing a floor of its words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from bedside.answer.evidence import EvidencePassage
from bedside.answer.injection import instruction_in
from bedside.index.protocols import F32, Embedder
from bedside.text.analysis import analyze
from bedside.text.quantities import CITATION_MARK, Quantity, quantities, stated
from bedside.text.sentences import split_spans
from bedside.text.vocabulary import load_vocabulary

_IDENTIFIER = re.compile(r"(?<![\w-])(?:[A-Za-z][A-Za-z0-9]*[-‐]\d[A-Za-z0-9]*|[A-Za-z]+\d[A-Za-z0-9]*)(?![\w-])")
_NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|cannot|avoid\w*|contraindicat\w*)\b|n't\b", re.I)


@dataclass(frozen=True, slots=True)
class VerifyThresholds:
    """When a statement counts as supported.

    Defaults chosen on PubMedQA split "dev" only, for precision >= 0.98 against the most similar other abstract, by
    `.venv/bin/python bench/calibrate_verify.py --precision 0.98` (bge-small-en-v1.5, bedside's one model). On
    split "test": precision 0.988, recall 0.402 lexical-only; 0.986 and 0.512 with bge-small (all-MiniLM-L6-v2,
    which bedside ran before, gave 0.969 and 0.600 at its own thresholds, cosine 0.60 and floor 0.30: bge-small's
    cosines run higher, so it needs 0.80). Recall is low there because a conclusion generalises beyond its abstract,
    while an LLM statement restates a cited passage.
    """

    lexical: float = 0.50  # share of content terms found in one cited sentence and its neighbours
    cosine: float = 0.80  # embedding cosine of statement vs one cited sentence ...
    lexical_floor: float = 0.25  # ... accepted only with at least this lexical share
    number_context: float = 0.2  # a number counts where its sentence window holds this share of the terms
    polarity: bool = True  # support only from sentences negated (or not) as the statement is; see the bench script

    def accepts(self, lexical: float, cosine: float | None) -> bool:
        """The support rule: lexical alone, or cosine (when an embedder gave one) with a lexical floor."""
        return lexical >= self.lexical or (
            cosine is not None and cosine >= self.cosine and lexical >= self.lexical_floor
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome for one statement. `spans` holds (index into cited, start, end) of the best sentence in each
    cited passage that supports it (at least lexical_floor), best passage first; empty when not ok."""

    ok: bool
    reason: str
    spans: tuple[tuple[int, int, int], ...] = ()
    lexical: float = 0.0
    cosine: float | None = None


@dataclass(slots=True)
class _Analysed:
    spans: list[tuple[int, int]]
    sentences: list[frozenset[str]]  # terms of each sentence
    windows: list[frozenset[str]]  # terms of each sentence with its neighbours
    negated: list[bool]  # whether each sentence has a negation cue
    sentence_quantities: list[list[Quantity]]
    anywhere: list[Quantity]  # title and year: stated for every sentence
    identifiers: frozenset[str]
    terms: frozenset[str]
    vectors: F32 | None = None
    instruction: str = ""  # what addresses the model, when the passage does: it then supports nothing


@dataclass(slots=True)
class VerifyCache:
    """Per-passage analysis (sentences, terms, quantities, embeddings) reused across statements."""

    entries: dict[tuple[str, str], _Analysed] = field(default_factory=dict)

    def get(self, passage: EvidencePassage, embedder: Embedder | None) -> _Analysed:
        key = (passage.passage_id, passage.text)
        found = self.entries.get(key)
        if found is None:
            found = self.entries[key] = _analyse(passage)
        if embedder is not None and found.vectors is None:
            found.vectors = embedder.embed([passage.text[a:b] for a, b in found.spans])
        return found

    def prime(self, passages: list[EvidencePassage], embedder: Embedder, batch_size: int = 64) -> None:
        """Analyse passages and embed all their sentences in one batched call (faster than one call per passage)."""
        todo = [(p, e) for p in passages if (e := self.get(p, None)).vectors is None]
        texts = [p.text[a:b] for p, e in todo for a, b in e.spans]
        vectors = embedder.embed(texts, batch_size=batch_size)
        at = 0
        for _, e in todo:
            e.vectors, at = vectors[at : at + len(e.spans)], at + len(e.spans)


def _analyse(passage: EvidencePassage) -> _Analysed:
    found = instruction_in(f"{passage.title}\n{passage.text}")
    if found:  # a passage that instructs the model is not evidence, nor are its planted honest-looking sentences
        return _Analysed([], [], [], [], [], [], frozenset(), frozenset(), instruction=found)
    spans = split_spans(passage.text)
    terms = [_expand(frozenset(analyze(passage.text[a:b]))) for a, b in spans]
    windows = [frozenset().union(*terms[max(0, i - 1) : i + 2]) for i in range(len(terms))]
    anywhere = quantities(passage.title)
    if passage.year:
        anywhere.append(Quantity((Decimal(passage.year),), ""))
    names = frozenset(identifiers(passage.text) | identifiers(passage.title))
    negated = [bool(_NEGATION.search(passage.text[a:b])) for a, b in spans]
    return _Analysed(
        spans,
        terms,
        windows,
        negated,
        [quantities(passage.text[a:b]) for a, b in spans],
        anywhere,
        names,
        frozenset().union(*windows),
    )


@lru_cache(maxsize=1)
def _alternatives() -> dict[str, tuple[frozenset[str], ...]]:
    """Single analysed term -> analysed forms of its abbreviation expansions and synonyms ("b12" -> {cobalamin})."""
    vocab = load_vocabulary()
    table: dict[str, set[frozenset[str]]] = {}
    groups = [(abbr, *exp) for abbr, exp in vocab.abbreviations.items()] + list(vocab.synonym_groups)
    for group in groups:
        forms = [frozenset(analyze(t)) for t in group]
        for form in forms:
            if len(form) == 1:
                table.setdefault(next(iter(form)), set()).update(f for f in forms if f and f != form)
    return {k: tuple(v) for k, v in table.items()}


def _expand(terms: frozenset[str]) -> frozenset[str]:
    """Terms plus the words of each single-term synonym or abbreviation's expansions, so "B12" in a passage
    supports "vitamin B12" in a statement."""
    alt = _alternatives()
    extra = [form for t in terms for form in alt.get(t, ())]
    return terms.union(*extra) if extra else terms


def content_terms(text: str) -> frozenset[str]:
    """Analysed terms of text that carry meaning beyond its numbers (numbers are checked separately)."""
    return frozenset(t for t in analyze(CITATION_MARK.sub(" ", text)) if not re.fullmatch(r"[\d.,]+", t))


# Words that make a statement a safety verdict: its best cited sentence must say them too (or a synonym), however
# much else it shares ("X is contraindicated in all patients" is not supported by "X is used when ... not tolerated").
_VERDICT_TERMS = content_terms("contraindicated unsafe dangerous fatal lethal harmful toxic cures curative obsolete")


def _found(term: str, window: frozenset[str]) -> bool:
    return term in window or any(form <= window for form in _alternatives().get(term, ()))


def _lexical(terms: frozenset[str], window: frozenset[str]) -> float:
    return sum(_found(t, window) for t in terms) / len(terms) if terms else 0.0


def identifiers(text: str) -> set[str]:
    """Names that carry a number ("IL-6", "COVID-19", "HbA1c", "B12"), lower-cased without hyphens."""
    return {m.group(0).replace("-", "").replace("‐", "").lower() for m in _IDENTIFIER.finditer(text)}


def _unknown_identifier(text: str, analysed: list[_Analysed]) -> str:
    """The first number-bearing name of text that no cited passage mentions (directly or by a synonym), or ""."""
    for name in sorted(identifiers(text)):
        if any(name in a.identifiers for a in analysed):
            continue
        forms = analyze(name)
        if not (len(forms) == 1 and any(_found(forms[0], a.terms) for a in analysed)):
            return name
    return ""


def _missing_number(text: str, terms: frozenset[str], analysed: list[_Analysed], context: float) -> str:
    """The first quantity of text that no cited passage states in context, or "". In context: in a sentence whose
    window holds at least `context` of the statement's terms, so a number that the passage gives for something
    else does not count (a wrong dose often equals another number of the same passage)."""
    found = [q for a in analysed for q in a.anywhere]
    for a in analysed:
        for qs, window in zip(a.sentence_quantities, a.windows, strict=True):
            if qs and _lexical(terms, window) >= context:
                found.extend(qs)
    return next((q.label for q in quantities(text) if not stated(q, found)), "")


@dataclass(frozen=True, slots=True)
class _Best:
    """The best sentence of one cited passage: its scores, passage index, span and neighbourhood terms."""

    lexical: float
    cosine: float | None
    passage: int
    start: int
    end: int
    window: frozenset[str]


def _best_sentences(
    terms: frozenset[str], analysed: list[_Analysed], query: F32 | None, negated: bool | None
) -> list[_Best]:
    """Per passage, the best sentence, scored with its neighbours. With `negated` set, only sentences of that
    polarity count, as centre or neighbour: "do not give folic acid alone" never supports "give folic acid alone"."""
    best = []
    for i, a in enumerate(analysed):
        ks = [k for k in range(len(a.spans)) if negated is None or a.negated[k] == negated]
        if not ks:
            continue
        windows = {k: _window(a, k, negated) for k in ks}
        lex = {k: _lexical(terms, windows[k]) for k in ks}
        sims = a.vectors @ query if query is not None and a.vectors is not None else None
        cos = {k: float(sims[k]) for k in ks} if sims is not None else {}
        # The sentence itself breaks ties between overlapping windows, so provenance is the closest sentence.
        j = max(ks, key=lambda k: (lex[k] + cos.get(k, 0.0), _lexical(terms, a.sentences[k])))
        best.append(_Best(max(lex.values()), max(cos.values()) if cos else None, i, *a.spans[j], windows[j]))
    return best


def _window(a: _Analysed, k: int, negated: bool | None) -> frozenset[str]:
    if negated is None:
        return a.windows[k]
    return frozenset().union(*(a.sentences[j] for j in _near(k, a) if a.negated[j] == negated))


def _near(k: int, a: _Analysed) -> range:
    return range(max(0, k - 1), min(len(a.spans), k + 2))


def _joint_lexical(terms: frozenset[str], best: list[_Best], floor: float) -> float:
    """Share of terms found across the best sentences of two or more cited passages that each reach the floor:
    a statement may join facts from several passages ("B12 ... and iron ...")."""
    windows = [b.window for b in best if b.lexical >= floor]
    return _lexical(terms, frozenset().union(*windows)) if len(windows) > 1 else 0.0


def verify_statement(
    text: str,
    cited: list[EvidencePassage],
    embedder: Embedder | None,
    thresholds: VerifyThresholds,
    *,
    cache: VerifyCache | None = None,
) -> Verdict:
    """Decide whether the cited passages support text. Never ok without a cited passage, with a number (or a
    number-bearing name such as "IL-6") that no cited passage states, or below the thresholds; a cited passage
    that instructs a language model (bedside.answer.injection) supports nothing."""
    if not cited:
        return Verdict(False, "cites no passage")
    cache = cache if cache is not None else VerifyCache()
    analysed = [cache.get(p, embedder) for p in cited]
    if all(a.instruction for a in analysed):
        return Verdict(False, f"cited passages instruct the model ({analysed[0].instruction!r}): not evidence")
    terms = content_terms(text)
    if not terms:
        return Verdict(False, "no content words to check")
    missing = _missing_number(text, terms, analysed, thresholds.number_context) or _unknown_identifier(text, analysed)
    if missing:
        return Verdict(False, f"number {missing!r} is not in the cited passages")
    query = embedder.embed_query(text) if embedder is not None else None
    polarity = bool(_NEGATION.search(text)) if thresholds.polarity else None
    best = _best_sentences(terms, analysed, query, polarity)
    if not best:
        return Verdict(False, "no cited sentence has the statement's polarity (negated or not)")
    verdicts = terms & _VERDICT_TERMS
    if verdicts and not any(all(_found(t, b.window) for t in verdicts) for b in best):
        return Verdict(False, f"'{', '.join(sorted(verdicts))}' is not stated by the cited passages")
    lexical = max([b.lexical for b in best] + [_joint_lexical(terms, best, thresholds.lexical_floor)])
    cosines = [b.cosine for b in best if b.cosine is not None]
    cosine = max(cosines) if cosines else None
    if not thresholds.accepts(lexical, cosine):
        detail = f"lexical {lexical:.2f}" + (f", cosine {cosine:.2f}" if cosine is not None else "")
        return Verdict(False, f"not supported by the cited passages ({detail})", (), lexical, cosine)
    best.sort(key=lambda b: -(b.lexical + (b.cosine or 0.0)))
    # Cite every passage that supports a fair share on its own; at least the best one.
    kept = [b for b in best if b.lexical >= thresholds.lexical_floor] or best[:1]
    return Verdict(True, "supported", tuple((b.passage, b.start, b.end) for b in kept), lexical, cosine)
