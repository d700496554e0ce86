"""The extractive composer: an answer made only of the sources' own sentences, each with its exact span.

Sentences are scored for relevance to the question (concept coverage, query-term overlap, the passage's
retrieval rank), for specificity (doses, thresholds, percentages) and for the strength of their source
(guidelines first, newer first, other things equal); each goes into the one section it fits best; near-duplicates
from different sources become one bullet citing both (bedside.answer.merging). A statement never joins words from
two sources. The answer's heading restates the question (bedside.answer.titles).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from bedside.answer import selection
from bedside.answer.candidates import Candidate, candidates, continued, terms_of
from bedside.answer.centrality import centrality, semantic_centrality, sentence_vectors
from bedside.answer.evidence import EvidencePassage, renumber
from bedside.answer.focus import Focus
from bedside.answer.injection import addresses_model
from bedside.answer.merging import pick
from bedside.answer.question import QueryPlan, concepts_of
from bedside.answer.titles import title_for as title_for  # the answer's heading; callers import it from here too
from bedside.model import Answer, AnswerSection, EvidenceType, QuestionType, Statement
from bedside.text.analysis import analyze

# Section headings per question type, in display order, and the sentence categories each one takes.
_LAYOUTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "treatment": (
        ("Critical warnings", ("warning",)),
        ("Assessment before treatment", ("diagnosis",)),
        ("Treatment", ("treatment", "key")),
        ("When to escalate", ("escalation",)),
        ("Monitoring", ("monitoring",)),
        ("Special populations", ("population",)),
        ("Pitfalls", ("pitfall",)),
    ),
    "diagnosis": (
        ("Tests and thresholds", ("diagnosis",)),
        ("Interpretation", ("key", "treatment", "monitoring")),
        ("Pitfalls", ("pitfall",)),
        ("Critical warnings", ("warning",)),
        ("Special populations", ("population",)),
        ("When to refer", ("escalation",)),
    ),
    "yes-no": (
        ("Why", ("key", "diagnosis")),
        ("Clinical implications", ("treatment", "monitoring", "escalation")),
        ("Critical warnings", ("warning",)),
        ("Special populations", ("population",)),
        ("Pitfalls", ("pitfall",)),
    ),
    "monitoring": (
        ("Monitoring", ("monitoring",)),
        ("Targets and thresholds", ("diagnosis",)),
        ("Treatment context", ("treatment", "key")),
        ("Critical warnings", ("warning",)),
        ("Special populations", ("population",)),
    ),
    "general": (
        ("Key points", ("key",)),
        ("Diagnosis", ("diagnosis",)),
        ("Treatment", ("treatment",)),
        ("Monitoring", ("monitoring",)),
        ("Critical warnings", ("warning",)),
        ("Special populations", ("population",)),
        ("Pitfalls", ("pitfall", "escalation")),
    ),
}
_LAYOUT_OF = {
    QuestionType.TREATMENT: "treatment",
    QuestionType.DOSING: "treatment",
    QuestionType.DIAGNOSIS: "diagnosis",
    QuestionType.YES_NO: "yes-no",
    QuestionType.MONITORING: "monitoring",
}
PRIORITY_EXTRA = 3
# The sentence category that answers each kind of part ("when do I recheck?": monitoring).
_ASKED_CATEGORY = {
    "dose": "treatment",
    "choice": "treatment",
    "duration": "treatment",
    "threshold": "diagnosis",
    "diagnosis": "diagnosis",
    "monitoring": "monitoring",
}
# Categories a bottom-line sentence may come from when the question's parts choose it.
_LEAD_CATEGORIES = {
    "treatment": frozenset(("treatment", "key", "diagnosis", "monitoring", "escalation", "warning")),
    "diagnosis": frozenset(("diagnosis", "key", "treatment", "pitfall", "escalation")),
    "monitoring": frozenset(("monitoring", "diagnosis", "treatment", "key")),
    "yes-no": frozenset(("key", "treatment", "diagnosis", "monitoring", "warning", "escalation", "pitfall")),
    "general": frozenset(("key", "treatment", "diagnosis", "monitoring", "warning", "escalation", "pitfall")),
}
_BOTTOM_LINE_CATEGORIES = {
    "treatment": ("treatment",),
    "diagnosis": ("diagnosis",),
    "monitoring": ("monitoring",),
    "yes-no": ("key", "treatment", "diagnosis"),
    "general": ("key", "treatment", "diagnosis"),
}


@dataclass(frozen=True, slots=True)
class ExtractiveOptions:
    """Limits that keep answers short and readable."""

    bullets_per_section: int = 5
    # The sections that answer the question's type and parts (Treatment for "which antibiotic?", Monitoring for
    # "when do I recheck?") hold more than the others.
    main_section_bullets: int = 12
    max_statements: int = 22
    relative_floor: float = 0.45  # a sentence must score at least this share of the best sentence
    min_coverage: float = 0.5  # share of the question's concepts the evidence must mention at all
    duplicate_jaccard: float = 0.6
    duplicate_distinct: float = 0.5  # the same share of distinctive words, context set aside, with the same numbers
    # Sentence score weights, tuned on BioASQ dev (summary + yes/no, gold snippets) with bench/answers.py.
    w_coverage: float = 0.3
    w_retrieval: float = 0.3
    w_fit: float = 0.12
    w_strength: float = 0.1
    w_quantity: float = 0.1
    w_centrality: float = 1.0  # agreement with the other passages: what the evidence as a whole says
    # The same idea in meaning rather than words: similarity to the centroid of the leading candidates' vectors,
    # when the composer is given an embedder (Settings.answer_semantic; weights tuned on BioASQ dev).
    w_semantic: float = 1.5
    semantic_top: int = 8  # candidates (best first) that get the semantic score; 0: all
    retrieval_decay: float = 0.6
    # "What is X?": a sentence that opens on X and says what it is ("X is a ...") answers it most directly.
    w_definition: float = 0.2
    # Per priority point of an on-topic passage's collection (local protocols): an institution's own sentence
    # outranks the literature's on the same subject. Nothing in the evaluation data has a collection, so the
    # figures tuned above are untouched.
    w_local: float = 0.3
    # Treatment and dosing answers exist to give doses, routes and intervals: specific sentences count more there,
    # and agreement less (a dose is usually stated once, by one source).
    treatment_quantity_factor: float = 2.5
    treatment_centrality_factor: float = 0.3
    # A statement from one source carries its passage's next sentence when that one leans on it ("They ...").
    continue_anaphora: Literal["bottom", "all", "none"] = "bottom"  # which statements may carry it


def score(c: Candidate, plan: QueryPlan, layout: str, options: ExtractiveOptions | None = None) -> float:
    """Relevance and usefulness of one sentence for this question."""
    o = options or ExtractiveOptions()
    concepts = set(plan.concepts)
    coverage = len(concepts & c.terms) / len(concepts) if concepts else 0.0
    parts = [set(concepts_of(q)) for q in plan.subqueries]
    if parts:  # each coordinated condition may be answered on its own
        coverage = 0.6 * coverage + 0.4 * max(len(p & c.terms) / len(p) if p else 0.0 for p in parts)
    retrieval = 1.0 / (1.0 + o.retrieval_decay * c.rank)
    strength = (len(EvidenceType) - 1 - c.passage.evidence_type.rank) / (len(EvidenceType) - 1)
    fit = 1.0 if c.category in _BOTTOM_LINE_CATEGORIES[layout] else 0.0
    quantity = o.w_quantity * (o.treatment_quantity_factor if layout == "treatment" else 1.0)
    value = (
        o.w_coverage * coverage
        + o.w_retrieval * retrieval
        + o.w_fit * fit
        + o.w_strength * strength
        + (quantity if c.quantitative else 0.0)
    )
    if c.population and not plan.qualifiers:
        value -= 0.05  # about another population than the one asked about
    if plan.qualifiers and c.population:
        value += 0.1
    if layout == "general" and defines(c, concepts):
        value += o.w_definition
    if c.category == "warning" and layout == "treatment":
        value += 0.1  # safety first: prohibitions and orderings earn their place near the top
    return value + o.w_local * c.passage.priority


_COPULA = re.compile(
    r"^[^;:.]{0,80}?\b(?:is|are|represents?|refers? to|comprises?|consists? of|acts? as|functions? as)\b"
    r"|^[^,;:.]{1,60},\s+(?:a|an|the)\b",
    re.I,
)


def defines(c: Candidate, concepts: set[str]) -> bool:
    """Whether the sentence opens on what was asked about and says what it is ("X is a ...", "X, an ...")."""
    head = set(analyze(" ".join(c.text.split()[:4])))
    return bool(concepts & head) and bool(_COPULA.search(c.text))


def category_of(c: Candidate, plan: QueryPlan) -> str:
    """The sentence's category, except that sentences about a population not asked about go to that section."""
    if c.population and not plan.qualifiers and c.category != "warning":
        return "population"
    return c.category


def _statement(group: list[Candidate], kind: str, extend: bool = False) -> Statement:
    if extend and len(group) == 1:  # never for a merged bullet: the other sources said only the first sentence
        group = [continued(group[0])]
    return Statement(
        text=group[0].text,
        citations=(),  # numbered later, in reading order
        provenance=tuple(c.passage.provenance(c.a, c.b) for c in group),
        kind=kind,
    )


def _completes(plan: QueryPlan, layout: str) -> bool:
    """Whether the bottom line must cover the question's parts: a clinical plan (what to give, what to watch) or a
    question about two conditions at once, where a sentence answering only part of it must not lead alone."""
    return layout in ("treatment", "monitoring") or bool(plan.subqueries)


def _bottom_line(groups: list[list[Candidate]], plan: QueryPlan, layout: str) -> list[list[Candidate]]:
    """The sentence that answers most directly; for a clinical plan or a two-part question, one or two sentences
    that together cover as many of its concepts as possible. Elsewhere the best-scored sentence leads alone: on
    BioASQ dev, promoting a sentence for naming more question terms displaced the one the evidence agreed on."""
    wanted = _BOTTOM_LINE_CATEGORIES[layout]
    pool = [g for g in groups if category_of(g[0], plan) in wanted]
    pool = pool or [g for g in groups if category_of(g[0], plan) not in ("warning", "population")]
    if not pool:
        return []
    concepts = set(plan.concepts)
    if not _completes(plan, layout):
        return [pool[0]]
    if concepts:  # among the best few, the one that answers most of the question leads
        head = sorted(pool[:5], key=lambda g: -round(len(concepts & g[0].terms) / len(concepts), 1))
        pool = head + pool[5:]
    chosen = [pool[0]]
    missing = set(plan.concepts) - pool[0][0].terms
    for g in pool[1:6]:
        if missing & g[0].terms and g[0].passage.document_id != chosen[0][0].passage.document_id:
            chosen.append(g)
            break
    return chosen


def _fill_sections(
    groups: list[list[Candidate]],
    plan: QueryPlan,
    layout: str,
    options: ExtractiveOptions,
    priority: set[int] | None = None,
) -> list[tuple[str, list[Statement]]]:
    """Place each group, best first, in the one section its category belongs to, within the limits; a group in
    `priority` (ids: it answers a part of the question) may go PRIORITY_EXTRA past a section's limit."""
    heading_of = {cat: heading for heading, cats in _LAYOUTS[layout] for cat in cats}
    asked = (_BOTTOM_LINE_CATEGORIES[layout][0], *(_ASKED_CATEGORY.get(p.decision, "") for p in plan.parts))
    main = {heading_of[c] for c in asked if c in heading_of}
    filled: dict[str, list[Statement]] = {heading: [] for heading, _ in _LAYOUTS[layout]}
    total = 0
    for g in groups:
        category = category_of(g[0], plan)
        heading = heading_of.get(category)
        limit = options.main_section_bullets if heading in main else options.bullets_per_section
        limit += PRIORITY_EXTRA if priority and id(g) in priority else 0
        if heading is None or len(filled[heading]) >= limit:
            continue
        filled[heading].append(_statement(g, category, options.continue_anaphora == "all"))
        total += 1
        if total >= options.max_statements:
            break
    return [(heading, stmts) for heading, stmts in filled.items() if stmts]


def covered(plan: QueryPlan, passages: list[EvidencePassage], options: ExtractiveOptions) -> bool:
    """Whether the evidence mentions enough of the question's concepts to be worth answering from."""
    concepts = set(plan.concepts)
    if not passages or not concepts:
        return bool(passages)
    seen: set[str] = set()
    for p in passages[:5]:
        seen |= terms_of(f"{p.title} {p.text}")
    return len(concepts & seen) / len(concepts) >= options.min_coverage


def compose(
    plan: QueryPlan,
    passages: list[EvidencePassage],
    options: ExtractiveOptions | None = None,
    embed: Callable[[list[str]], Any] | None = None,
    focus: Focus | None = None,
) -> Answer:
    """Compose an answer from the passages' own sentences; never returns an uncited statement. With `embed` (texts
    to unit vectors), agreement in meaning counts beside agreement in words. With `focus` (the documents about the
    question's problem), the answer abstains when no document is about it, leads only from those documents, and
    gives the patient nothing meant for another population."""
    options = options or ExtractiveOptions()
    layout = _LAYOUT_OF.get(plan.type, "general")
    if (focus is not None and not focus.covered) or (focus is None and not covered(plan, passages, options)):
        return insufficient(plan, passages)
    cands, specific = selection.applicable(candidates(passages), plan, focus)
    central = centrality(cands) if options.w_centrality else {}
    factor = options.treatment_centrality_factor if layout == "treatment" else 1.0
    w_central = options.w_centrality * factor
    values = [
        score(c, plan, layout, options)
        + w_central * central.get(i, 0.0)
        + (selection.W_SPECIFIC if i in specific else 0.0)
        for i, c in enumerate(cands)
    ]
    if embed is not None and options.w_semantic and cands:
        # Only the leading candidates compete for the first statements; embedding just those bounds the cost of a
        # question whose passages have not been seen before.
        head = sorted(range(len(cands)), key=lambda i: -values[i])[: options.semantic_top or None]
        semantic = semantic_centrality(sentence_vectors([cands[i] for i in head], embed))
        for i, sim in zip(head, semantic, strict=True):
            values[i] += options.w_semantic * factor * sim
    ranked = sorted(zip(values, cands, strict=True), key=lambda t: -t[0])
    # A sentence of a document about the question's problem may answer it in words the question did not use
    # ("Limit the rise in serum sodium ..." for "what is the maximum correction?").
    about = frozenset(focus.documents) if focus is not None else frozenset()
    concepts = set(plan.concepts)
    groups = pick(
        ranked,
        concepts | set(concepts_of(" ".join(plan.expansions))),
        about,
        relative_floor=options.relative_floor,
        same=options.duplicate_jaccard,
        same_distinct=options.duplicate_distinct,
    )
    if not groups or (focus is None and concepts and not any(concepts & g[0].terms for g in groups[:3])):
        return insufficient(plan, passages)
    if focus is not None:
        value_of = {id(c): v for v, c in ranked}
        values_of = {id(g): value_of[id(g[0])] for g in groups}
        rankings = selection.part_rankings(groups, values_of, plan, focus, _LEAD_CATEGORIES[layout])
        answers = selection.bottom_line(plan, rankings)
        bottom = [g for _, g in answers]
        indirect = {id(g) for part, g in answers if selection.undecided(part, g)}
        first = selection.answering(rankings)
        groups = first + [g for g in groups if not any(g is h for h in first)]
        priority = {id(g) for g in first}
    else:
        bottom, priority, indirect = _bottom_line(groups, plan, layout), set(), set()
    sections = _fill_sections([g for g in groups if g not in bottom], plan, layout, options, priority)
    if not bottom and not sections:
        return insufficient(plan, passages)
    by_id: dict[str, EvidencePassage] = {p.passage_id: p for p in passages}
    # No "Yes."/"No." label: cue words misjudged 18% of BioASQ dev yes/no questions, too many for a clinical tool.
    extend = options.continue_anaphora in ("bottom", "all")
    bottom_line, numbered, references = renumber(
        [_statement(g, "indirect" if id(g) in indirect else "bottom-line", extend) for g in bottom], sections, by_id
    )
    return Answer(
        question=plan.question,
        title=title_for(plan),
        audience="clinician",
        bottom_line=bottom_line,
        sections=tuple(AnswerSection(h, s) for h, s in numbered),
        references=references,
        insufficient_evidence=False,
        question_type=plan.type,
        searched=(plan.search_query,),
    )


def insufficient(plan: QueryPlan, passages: list[EvidencePassage]) -> Answer:
    """The answer when the knowledge base holds too little: what was searched and the closest material (never a
    passage that instructs a model), nothing else."""
    from bedside.answer.evidence import ReferenceList

    refs = ReferenceList()
    for p in [p for p in passages if not addresses_model(f"{p.title}\n{p.text}")][:3]:
        refs.cite(p)
    return Answer(
        question=plan.question,
        title=title_for(plan),
        audience="clinician",
        bottom_line=(),
        sections=(),
        references=refs.references(),
        insufficient_evidence=True,
        question_type=plan.type,
        searched=(plan.search_query,),
    )
