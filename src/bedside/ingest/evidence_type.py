"""Label a document's evidence type from MEDLINE publication types, MeSH headings or JATS article types."""

from __future__ import annotations

from collections.abc import Iterable

from bedside.model import EvidenceType

# MEDLINE PublicationType values (NLM's list), strongest evidence first.
_PUBLICATION_TYPES: tuple[tuple[EvidenceType, frozenset[str]], ...] = (
    (
        EvidenceType.GUIDELINE,
        frozenset(
            {
                "practice guideline",
                "guideline",
                "consensus development conference",
                "consensus development conference, nih",
            }
        ),
    ),
    (EvidenceType.SYSTEMATIC_REVIEW, frozenset({"systematic review", "meta-analysis", "network meta-analysis"})),
    (
        EvidenceType.RANDOMIZED_TRIAL,
        frozenset(
            {
                "randomized controlled trial",
                "equivalence trial",
                "pragmatic clinical trial",
                "controlled clinical trial",
                "clinical trial, phase iii",
                "clinical trial, phase iv",
            }
        ),
    ),
    (
        EvidenceType.OBSERVATIONAL,
        frozenset(
            {
                "observational study",
                "multicenter study",
                "comparative study",
                "validation study",
                "evaluation study",
                "twin study",
            }
        ),
    ),
    (EvidenceType.REVIEW, frozenset({"review", "scoping review", "narrative review", "overview"})),
    (EvidenceType.CASE_REPORT, frozenset({"case reports"})),
    (EvidenceType.CONSUMER_HEALTH, frozenset({"patient education handout"})),
)

# MeSH descriptors that mark study designs when the publication type says less.
_MESH_DESIGNS: tuple[tuple[EvidenceType, frozenset[str]], ...] = (
    (EvidenceType.RANDOMIZED_TRIAL, frozenset({"randomized controlled trials as topic"})),
    (
        EvidenceType.OBSERVATIONAL,
        frozenset(
            {
                "cohort studies",
                "prospective studies",
                "retrospective studies",
                "case-control studies",
                "cross-sectional studies",
                "longitudinal studies",
                "follow-up studies",
            }
        ),
    ),
)

# JATS @article-type values.
_JATS_TYPES = {
    "practice-guideline": EvidenceType.GUIDELINE,
    "guideline": EvidenceType.GUIDELINE,
    "systematic-review": EvidenceType.SYSTEMATIC_REVIEW,
    "meta-analysis": EvidenceType.SYSTEMATIC_REVIEW,
    "review-article": EvidenceType.REVIEW,
    "case-report": EvidenceType.CASE_REPORT,
}


def from_publication_types(types: Iterable[str], mesh: Iterable[str] = ()) -> EvidenceType:
    """The strongest evidence type named by MEDLINE publication types, then by MeSH design terms."""
    names = {t.strip().lower() for t in types}
    for label, known in _PUBLICATION_TYPES:
        if names & known:
            # "Multicenter study" or "Comparative study" alone is weak; only a trial type makes it a trial.
            return label
    descriptors = {m.strip().lower() for m in mesh}
    for label, known in _MESH_DESIGNS:
        if descriptors & known:
            return label
    return EvidenceType.RESEARCH


def from_jats_article_type(article_type: str, subjects: Iterable[str] = ()) -> EvidenceType:
    """Evidence type from a JATS article-type attribute and subject headings."""
    found = _JATS_TYPES.get(article_type.strip().lower())
    if found:
        return found
    return from_publication_types(subjects)
