"""Plain data types shared by every part of bedside, by concept.

Frozen dataclasses for the core; the answer's JSON form is one pydantic model (`AnswerJSON`). No storage, web or
CLI knowledge lives here. Every name is importable from `bedside.model`.
"""

from bedside.model.answer import Answer, AnswerSection, Provenance, QuestionType, Reference, Statement
from bedside.model.answer_json import (
    AnswerJSON,
    AnswerMeta,
    ProvenanceJSON,
    ReferenceJSON,
    SectionJSON,
    StatementJSON,
)
from bedside.model.article import NewerVersion, SourceState
from bedside.model.corrections import NOTICE_OF, REFERENCE_NOTES, RETRACTING, Correction, CorrectionKind
from bedside.model.document import (
    Block,
    Document,
    DocumentId,
    EvidenceType,
    IndexRow,
    Passage,
    PassageId,
    SearchHit,
    passage_id,
)

__all__ = [
    "NOTICE_OF",
    "REFERENCE_NOTES",
    "RETRACTING",
    "Answer",
    "AnswerJSON",
    "AnswerMeta",
    "AnswerSection",
    "Block",
    "Correction",
    "CorrectionKind",
    "Document",
    "DocumentId",
    "EvidenceType",
    "IndexRow",
    "NewerVersion",
    "Passage",
    "PassageId",
    "Provenance",
    "ProvenanceJSON",
    "QuestionType",
    "Reference",
    "ReferenceJSON",
    "SearchHit",
    "SectionJSON",
    "SourceState",
    "Statement",
    "StatementJSON",
    "passage_id",
]
