"""Retractions, expressions of concern, errata and updates: the links between a record and notices about it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CorrectionKind(StrEnum):
    """A link between a record and a notice about it (MEDLINE CommentsCorrections RefType), by direction.

    The "...In" kinds sit on the article concerned and name the notice; the "...Of"/"...For" kinds sit on the
    notice and name the article it concerns.
    """

    RETRACTION_IN = "RetractionIn"
    RETRACTION_OF = "RetractionOf"
    RETRACTED_AND_REPUBLISHED_IN = "RetractedandRepublishedIn"
    RETRACTED_AND_REPUBLISHED_FROM = "RetractedandRepublishedFrom"
    CONCERN_IN = "ExpressionOfConcernIn"
    CONCERN_FOR = "ExpressionOfConcernFor"
    ERRATUM_IN = "ErratumIn"
    ERRATUM_FOR = "ErratumFor"
    UPDATE_IN = "UpdateIn"
    UPDATE_OF = "UpdateOf"

    @property
    def inverse(self) -> CorrectionKind:
        """The same link seen from the other record (RetractionOf on a notice is RetractionIn on its article)."""
        return _INVERSE[self]

    @property
    def points_back(self) -> bool:
        """True for the kinds a notice (or a newer version) carries about the article it concerns."""
        return self.value.endswith(("Of", "For", "From"))

    @property
    def label(self) -> str:
        """How a reference list names the notice this link points to."""
        return _CORRECTION_LABELS[self]


_INVERSE = {
    CorrectionKind.RETRACTION_IN: CorrectionKind.RETRACTION_OF,
    CorrectionKind.RETRACTED_AND_REPUBLISHED_IN: CorrectionKind.RETRACTED_AND_REPUBLISHED_FROM,
    CorrectionKind.CONCERN_IN: CorrectionKind.CONCERN_FOR,
    CorrectionKind.ERRATUM_IN: CorrectionKind.ERRATUM_FOR,
    CorrectionKind.UPDATE_IN: CorrectionKind.UPDATE_OF,
}
_INVERSE.update({v: k for k, v in list(_INVERSE.items())})

_CORRECTION_LABELS = {
    CorrectionKind.RETRACTION_IN: "Retracted",
    CorrectionKind.RETRACTION_OF: "Retraction notice for",
    CorrectionKind.RETRACTED_AND_REPUBLISHED_IN: "Retracted and republished",
    CorrectionKind.RETRACTED_AND_REPUBLISHED_FROM: "Republished version of",
    CorrectionKind.CONCERN_IN: "Expression of concern",
    CorrectionKind.CONCERN_FOR: "Expression of concern about",
    CorrectionKind.ERRATUM_IN: "Erratum",
    CorrectionKind.ERRATUM_FOR: "Erratum for",
    CorrectionKind.UPDATE_IN: "Updated version",
    CorrectionKind.UPDATE_OF: "Update of",
}

# A record carrying one of these is the retracted article itself.
RETRACTING = frozenset({CorrectionKind.RETRACTION_IN, CorrectionKind.RETRACTED_AND_REPUBLISHED_IN})
# A record carrying one of these is a notice about another article, not evidence of its own.
NOTICE_OF = {
    CorrectionKind.RETRACTION_OF: "retraction notice",
    CorrectionKind.CONCERN_FOR: "expression of concern",
    CorrectionKind.ERRATUM_FOR: "erratum",
}
# The notes a reference shows for these links (others are shown by exclusion, never as a note).
REFERENCE_NOTES = (CorrectionKind.CONCERN_IN, CorrectionKind.ERRATUM_IN, CorrectionKind.UPDATE_IN)


@dataclass(frozen=True, slots=True)
class Correction:
    """A link from a document to a notice about it, or from a notice to the document it concerns.

    `inbound` marks a link the knowledge store derived from the other record (a retraction notice that names this
    document), not one the document's own record states; it is not part of the document's content hash.
    """

    kind: CorrectionKind
    pmid: str = ""
    source: str = ""  # the citation as the record gives it ("Lancet. 2010 Feb 6;375(9713):445")
    inbound: bool = False

    @property
    def note(self) -> str:
        """ "Expression of concern: Lancet. 2010 ... (PMID 20137807)"."""
        where = self.source or ""
        if self.pmid:
            where = f"{where} (PMID {self.pmid})" if where else f"PMID {self.pmid}"
        return f"{self.kind.label}: {where}" if where else self.kind.label
