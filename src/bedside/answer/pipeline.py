"""Answering a question end to end: plan, retrieve, compose (LLM with extractive fallback), render."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bedside.answer import extractive, selection
from bedside.answer.applicability import Applicability, Fit, fit
from bedside.answer.audience import AUDIENCES, render_for
from bedside.answer.candidates import candidates, expansions_in, terms_of
from bedside.answer.evidence import EvidencePassage
from bedside.answer.focus import Focus, focus_of
from bedside.answer.identifiers import identifier_notice, scrub_identifiers
from bedside.answer.injection import addresses_model
from bedside.answer.patient import Patient
from bedside.answer.question import QueryPlan, plan
from bedside.answer.render import DISCLAIMER, PATIENT_DISCLAIMER
from bedside.answer.topics import named_terms
from bedside.errors import InvalidInput, UpstreamError
from bedside.model import Answer, Document, DocumentId, EvidenceType, PassageId, SearchHit
from bedside.text.analysis import analyze
from bedside.text.slugs import slug_for

MAX_QUESTION_CHARS = 2000
EVIDENCE_PASSAGES = 12


class Composer(Protocol):
    """An LLM composer (see bedside.answer.llm.LlmComposer)."""

    def compose(
        self,
        question: str,
        passages: list[EvidencePassage],
        audience: str = "clinician",
        on_statement: Callable[[str], None] | None = None,
    ) -> Answer: ...


@dataclass(frozen=True, slots=True)
class AskContext:
    """Everything `answer_question` needs from the outside world, passed in so the core stays pure."""

    search: Callable[[str, int], list[SearchHit]]
    documents: Callable[[Sequence[str]], dict[str, Document]]
    today: str
    previous_questions: tuple[str, ...] = ()
    llm: Composer | None = None
    on_statement: Callable[[str], None] | None = None
    given_evidence: bool = False
    # Sentence embedder for semantic agreement in the extractive composer (None: lexical agreement only).
    embed: Callable[[list[str]], Any] | None = None
    # Search restricted to some documents (query, limit, document ids): more of the documents in topic focus.
    search_in: Callable[[str, int, Sequence[str]], list[SearchHit]] | None = None
    # The analysed terms the knowledge base has at all (for what a question names that bedside has never read of).
    known_terms: Callable[[frozenset[str]], frozenset[str]] | None = None
    # The analysed terms some document's title, topics or section headings use (what the knowledge base names).
    named_terms: Callable[[frozenset[str]], frozenset[str]] | None = None
    # A named collection's label for its references ("Local protocol"); None: the collection's name.
    collection_label: Callable[[str], str] | None = None


def validate(question: str, audience: str) -> str:
    """The question, normalised and without patient identifiers (see `identifiers`); InvalidInput for an empty or
    over-long one, one that was nothing but identifiers, or an unknown audience."""
    if not isinstance(question, str) or not question.strip():
        raise InvalidInput("question is empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(f"question is too long ({len(question)} characters; at most {MAX_QUESTION_CHARS})")
    if audience not in AUDIENCES:
        raise InvalidInput(f"unknown audience {audience!r} (choose from {', '.join(AUDIENCES)})")
    scrubbed = scrub_identifiers(" ".join(question.split()))
    if not re.search(r"\w", scrubbed.text):
        raise InvalidInput("the question held nothing but patient identifiers; ask without names or numbers")
    return scrubbed.text


def evidence_from_hits(
    hits: list[SearchHit], docs: dict[str, Document], collection_label: Callable[[str], str] | None = None
) -> list[EvidencePassage]:
    """Evidence passages, citing the guideline itself (not the digest file) for starter digests.

    Never a retracted article or a notice about one, whatever the search returned.
    """
    out = []
    for h in hits:
        d = docs.get(h.document_id)
        if d is None or d.withdrawn:
            continue
        label = (collection_label(d.collection) if collection_label else d.collection) if d.collection else ""
        out.append(
            EvidencePassage(
                passage_id=h.passage_id,
                document_id=h.document_id,
                text=h.text,
                start=h.start,
                title=d.guideline or d.title,
                section=h.section,
                evidence_type=d.evidence_type,
                year=d.year,
                source=reference_source(d),
                url=d.link,
                reviewed=d.reviewed,
                score=h.score,
                notes=d.notes(),
                label=label,
                priority=h.priority,
                digest=bool(d.guideline),
            )
        )
    return out


def reference_source(d: Document) -> str:
    """Publisher or journal as a reference shows it: the issuer and the journal when both are known."""
    if d.issuer and d.source and d.source != d.issuer:
        return f"{d.issuer}; {d.source}"
    return d.issuer or d.source


def evidence_from_items(items: list[dict[str, Any]]) -> list[EvidencePassage]:
    """Caller-supplied passages ({"id", "text", "title"?, "type"?, "year"?, "source"?, "url"?})."""
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not str(item.get("text") or "").strip() or item.get("id") in (None, ""):
            raise InvalidInput(f"evidence[{i}] needs a non-empty 'id' and 'text'")
        try:
            etype = EvidenceType.parse(str(item["type"])) if item.get("type") else EvidenceType.RESEARCH
        except ValueError as exc:
            raise InvalidInput(f"evidence[{i}].type: {exc}") from None
        doc_id = str(item["id"])
        out.append(
            EvidencePassage(
                passage_id=PassageId(f"{doc_id}#{i}"),
                document_id=DocumentId(doc_id),
                text=str(item["text"]),
                start=0,
                title=str(item.get("title") or ""),
                evidence_type=etype,
                year=int(item["year"]) if str(item.get("year") or "").isdigit() else None,
                source=str(item.get("source") or ""),
                url=str(item.get("url") or ""),
                score=float(len(items) - i),
            )
        )
    return out


def retrieve(qplan: QueryPlan, search: Callable[[str, int], list[SearchHit]]) -> list[SearchHit]:
    """The question's best passages; each coordinated condition gets its own share, at most 4 per document."""
    runs = [search(qplan.search_query, EVIDENCE_PASSAGES)]
    runs += [search(q, EVIDENCE_PASSAGES // 2) for q in qplan.subqueries]
    merged: list[SearchHit] = []
    seen: set[str] = set()
    per_doc: dict[str, int] = {}
    for rank in range(EVIDENCE_PASSAGES):
        for run in runs:  # interleave so every run is represented near the top
            if rank < len(run) and run[rank].passage_id not in seen:
                hit = run[rank]
                if per_doc.get(hit.document_id, 0) < 4:
                    seen.add(hit.passage_id)
                    per_doc[hit.document_id] = per_doc.get(hit.document_id, 0) + 1
                    merged.append(hit)
    return merged[: EVIDENCE_PASSAGES + 4 * len(qplan.subqueries)]


def snapshot_of(passages: list[EvidencePassage], docs: dict[str, Document]) -> str:
    """A short hash of the evidence documents and their content hashes."""
    h = hashlib.sha256()
    for doc_id in sorted({p.document_id for p in passages}):
        d = docs.get(doc_id)
        h.update(f"{doc_id}:{d.content_hash if d else ''};".encode())
    return h.hexdigest()[:16]


def answer_question(
    question: str, audience: str, ctx: AskContext, evidence: list[dict[str, Any]] | None = None
) -> Answer:
    """Compose the answer to one question (the conversation's earlier questions resolve follow-ups)."""
    removed = scrub_identifiers(question).removed if isinstance(question, str) else ()
    question = validate(question, audience)  # without the identifiers: the answer never repeats them
    qplan = plan(question, list(ctx.previous_questions))
    docs: dict[str, Document] = {}
    focus: Focus | None = None
    if evidence is not None:
        passages = evidence_from_items(evidence)
    else:
        hits = retrieve(qplan, ctx.search)
        docs = ctx.documents([h.document_id for h in hits])
        ask = terms_of(" ".join(part.text for part in qplan.parts))
        problems = [terms_of(q) for q in qplan.subqueries]
        focus = focus_of(
            question_terms(qplan),
            docs,
            qplan.patient,
            ask,
            qplan.parts,
            ctx.known_terms,
            problems,
            background_terms(qplan),
            expansion_shares(qplan),
            head_conditions(qplan),
            retrieval_support(hits),
            named_terms(qplan.lead - background_terms(qplan), docs.values(), ctx.named_terms),
        )
        focus = local_first(focus, hits, qplan.patient)
        if focus.covered and ctx.search_in is not None:
            hits = focused(qplan, focus, docs, hits, ctx.search_in)
        passages = evidence_from_hits(hits, docs, ctx.collection_label)
    ctx = replace(ctx, given_evidence=evidence is not None)
    answer, notices = _compose(qplan, passages, ctx, audience, focus)
    answer = render_for(answer, audience)
    return replace(
        answer,
        question=question,
        slug=slug_for(question),
        updated=ctx.today,
        disclaimer=PATIENT_DISCLAIMER if audience == "patient" else DISCLAIMER,
        kb_snapshot=snapshot_of(passages, docs),
        notices=(*([identifier_notice(removed)] if removed else []), *notices, *answer.notices),
    )


# "no fever or loin pain", "not anaemic", "without diabetes": what the patient does not have is not the topic.
_ABSENT = re.compile(r"\b(?:no|not|without|denies|never)\b[^.;,?!]*", re.I)


# "with COPD and type 2 diabetes", "known AF", "on warfarin for a DVT", "history of MI": the patient's background.
_BACKGROUND = re.compile(
    r"\b(?:with|known|history of|hx of|background of|pmh|on)\s+([^,.;:?()]+)|\b(?:previous|prior|past)\s+([^,.;:?()]+)",
    re.I,
)


def background_terms(qplan: QueryPlan) -> frozenset[str]:
    """Terms the vignette names only as the patient's background (comorbidities, drugs), not in what it asks."""
    ask = " ".join(part.text for part in qplan.parts)
    vignette = qplan.question.replace(ask, " ") if ask else qplan.question
    named = " ".join(g for m in _BACKGROUND.finditer(vignette) for g in m.groups() if g)
    rest = _BACKGROUND.sub(" ", vignette)
    return terms_of(named) - terms_of(rest) - terms_of(ask)


def expansion_shares(qplan: QueryPlan) -> dict[str, float]:
    """Terms the question has only through an abbreviation's expansion, each with its share of that one concept
    ("COPD": chronic, obstructive, pulmonary, disease a quarter each), so a concept counts once, however spelt out."""
    text = qplan.search_query
    written = frozenset(analyze(text))
    shares: dict[str, float] = {}
    for terms in expansions_in(text):
        new = [t for t in terms if t not in written]
        for t in new:
            shares[t] = min(shares.get(t, 1.0), 1.0 / len(new))
    return shares


# Disease names by their shape: pyelonephritis, myeloma, hypercalcaemia, pre-eclampsia, neuropathy, ...
_CONDITION_WORD = re.compile(
    r"\b[\w-]*(?:itis|osis|oses|aemia|emia|oma|omas|pathy|algia|plasia|trophy|eclampsia|penia|cytosis|megaly|"
    r"lithiasis|ism)\b",
    re.I,
)
_HEAD = re.compile(r"^[^,.;:?()]+")


def head_conditions(qplan: QueryPlan) -> frozenset[str]:
    """Disease names in the question's opening clause, which usually states the problem ("Acute pyelonephritis in a
    30-year-old woman, ..."), unless named as background or as absent."""
    m = _HEAD.match(_ABSENT.sub(" ", qplan.question))
    words = _CONDITION_WORD.findall(m.group(0)) if m else []
    return frozenset(t for w in words for t in analyze(w)) - background_terms(qplan)


def question_terms(qplan: QueryPlan) -> frozenset[str]:
    """What the question names, as analysed terms, abbreviations expanded, leaving out what it says is absent (for
    topic focus). A drug class named after its condition names the condition too ("antihypertensive":
    hypertension, "antidepressant": depression)."""
    terms = terms_of(_ABSENT.sub(" ", " ".join((qplan.search_query, *qplan.expansions))))
    return terms | {t[4:] for t in terms if t.startswith("anti") and len(t) > 8}


def retrieval_support(hits: Sequence[SearchHit]) -> dict[str, float]:
    """Each document's support in the retrieved passages: the sum over its passages of 1 / (1 + rank)."""
    support: dict[str, float] = {}
    for rank, h in enumerate(hits):
        support[h.document_id] = support.get(h.document_id, 0.0) + 1.0 / (1.0 + rank)
    return support


def local_first(focus: Focus, hits: list[SearchHit], patient: Patient) -> Focus:
    """The focus led by the documents of prioritised collections (local protocols) that the searcher ranked first
    for being on the question's topic (`SearchHit.priority`), higher priority first, when they apply to this
    patient: an institution's protocol leads the answer over the literature on the same subject. A protocol about
    something else, or narrowed to another population, never joins."""
    ranks: dict[str, int] = {}
    for h in hits:
        if h.priority > 0 and fit(focus.populations.get(h.document_id, Applicability()), patient) is Fit.APPLIES:
            ranks[h.document_id] = max(ranks.get(h.document_id, 0), h.priority)
    if not ranks or not focus.covered:
        return focus
    local = sorted(ranks, key=lambda d: -ranks[d])
    rest = tuple(d for d in focus.documents if d not in ranks)
    return replace(focus, documents=(*local, *rest), related=tuple(d for d in focus.related if d not in ranks))


FOCUS_PASSAGES = 6  # more passages of the documents in focus, per part of the question


def focused(
    qplan: QueryPlan,
    focus: Focus,
    docs: dict[str, Document],
    hits: list[SearchHit],
    search_in: Callable[[str, int, Sequence[str]], list[SearchHit]],
) -> list[SearchHit]:
    """The evidence for a question with a topic focus: for each part, the focus documents' best passages for it
    (searched with the part and the documents' titles), then the first retrieval's other passages."""
    titles = " ".join(dict.fromkeys(docs[d].title for d in focus.documents if d in docs))
    runs = [search_in(f"{part.text} {titles}", FOCUS_PASSAGES, focus.documents) for part in qplan.parts]
    runs.append([h for h in hits if h.document_id in focus.documents])
    out: list[SearchHit] = []
    seen: set[str] = set()
    for rank in range(max((len(r) for r in runs), default=0)):
        for run in runs:  # interleaved, so every part is represented near the top
            if rank < len(run) and run[rank].passage_id not in seen:
                seen.add(run[rank].passage_id)
                out.append(run[rank])
    out += [h for h in hits if h.passage_id not in seen]
    return out


def evidence_for_drafting(
    qplan: QueryPlan, passages: list[EvidencePassage], focus: Focus | None
) -> list[EvidencePassage]:
    """The evidence a model drafts from: the runs of sentences the extractive composer may use for this question
    and patient (about its problem, from a document in focus or naming the problem; not about someone the patient
    is not), each run a passage of its own with its exact place in the document, in the order retrieval gave the
    passages (each part of the question's best first)."""
    if focus is None:
        return passages
    every = candidates(passages)
    kept, _ = selection.applicable(every, qplan, focus)
    usable = {(c.passage.passage_id, c.a) for c in kept if not c.population}
    runs: dict[str, list[tuple[int, int]]] = {}
    for c in every:  # in passage order, sentences in reading order
        spans = runs.setdefault(c.passage.passage_id, [])
        if (c.passage.passage_id, c.a) not in usable:
            spans.append((-1, -1))  # a sentence left out ends the run before it
        elif spans and spans[-1][0] >= 0:
            spans[-1] = (spans[-1][0], c.b)
        else:
            spans.append((c.a, c.b))
    out = [
        replace(p, text=p.text[a:b], start=p.start + a)
        for p in passages
        for a, b in runs.get(p.passage_id, [])
        if a >= 0
    ]
    if out:
        return out
    # Nothing the composer may use: the passages as retrieved, those of the documents in focus first, never one that
    # instructs a model (the composer skips those whole, and so does this).
    clean = [p for p in passages if not addresses_model(f"{p.title}\n{p.text}")]
    return [p for p in clean if p.document_id in focus.documents] or clean


def _compose(
    qplan: QueryPlan, passages: list[EvidencePassage], ctx: AskContext, audience: str, focus: Focus | None = None
) -> tuple[Answer, list[str]]:
    notices: list[str] = []
    gate = focus.covered if focus is not None else extractive.covered(qplan, passages, extractive.ExtractiveOptions())
    drafting = evidence_for_drafting(qplan, passages, focus) if ctx.llm is not None and gate else []
    if ctx.llm is not None and drafting:
        try:
            drafted = ctx.llm.compose(qplan.question, drafting, audience, ctx.on_statement)
            return replace(drafted, question_type=qplan.type, searched=(qplan.search_query,)), notices
        except UpstreamError as exc:
            notices.append(f"LLM unavailable, answered extractively instead: {exc}")
    # Caller-supplied evidence is relevant by the caller's word: no coverage gate, only the on-topic check.
    options = extractive.ExtractiveOptions(min_coverage=0.0) if ctx.given_evidence else None
    return extractive.compose(qplan, passages, options, embed=ctx.embed, focus=focus), notices
