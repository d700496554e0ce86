"""The JSON API's request and response bodies (pydantic at the edge); the pages use the same service results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bedside.answer.service import MAX_QUESTION_CHARS
from bedside.editorial.interface import Article

Audience = Literal["clinician", "student", "patient"]


class AskIn(BaseModel):
    """A question, for whom, and (for a follow-up) the conversation it continues."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, examples=["How is iron deficiency treated?"])
    audience: Audience | None = Field(default=None, description="clinician (default), student or patient")
    conversation: str | None = Field(default=None, description="an id from an earlier answer, for follow-ups")
    follows: str | None = Field(
        default=None, description="slug of an article this question follows up, when there is no conversation id"
    )


class ProvenanceOut(BaseModel):
    passage_id: str
    document_id: str
    start: int
    end: int


class StatementOut(BaseModel):
    text: str
    citations: list[int]
    provenance: list[ProvenanceOut]


class SectionOut(BaseModel):
    heading: str
    statements: list[StatementOut]


class ReferenceOut(BaseModel):
    number: int
    type: str
    title: str
    source: str
    year: int | None
    url: str
    document_id: str


class AnswerOut(BaseModel):
    """The answer JSON of interfaces.md; `slug` names the article, `status` its review status."""

    question: str
    title: str
    audience: Audience
    status: str
    updated: str
    conversation: str
    slug: str
    insufficient_evidence: bool
    bottom_line: list[StatementOut]
    sections: list[SectionOut]
    references: list[ReferenceOut]
    disclaimer: str
    meta: dict[str, Any]


class ArticleOut(BaseModel):
    """An article: its review state and the public version's answer, rendered for one audience."""

    slug: str
    question: str
    status: str
    created: str
    updated: str
    version: int
    approved_at: str
    url: str
    answer: AnswerOut


class ArticleSummary(BaseModel):
    slug: str
    title: str
    question: str
    status: str
    updated: str
    url: str

    @classmethod
    def from_domain(cls, article: Article) -> ArticleSummary:
        version = article.public_version or article.latest
        return cls(
            slug=article.slug, title=str(version.answer.get("title") or article.question), question=article.question,
            status=article.status.value, updated=article.updated, url=f"/articles/{article.slug}",
        )  # fmt: skip


class ArticleList(BaseModel):
    articles: list[ArticleSummary]


class TypeCount(BaseModel):
    type: str
    label: str
    documents: int


class SourcesOut(BaseModel):
    """What the knowledge base holds."""

    documents: int
    passages: int
    by_type: list[TypeCount]
    by_source: dict[str, int]


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
    llm: bool = Field(description="whether an LLM endpoint is configured")


class ErrorOut(BaseModel):
    """Every 4xx and 5xx JSON body."""

    error: str = Field(description="not_found, invalid_input, conflict, unavailable or internal")
    detail: str
