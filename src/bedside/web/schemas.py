"""The JSON API's request and response bodies (pydantic at the edge); the pages use the same service results.

The answer JSON itself is `bedside.model.AnswerJSON`, the one definition `Answer.to_dict` also uses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bedside.answer.pipeline import MAX_QUESTION_CHARS
from bedside.editorial.interface import Article
from bedside.editorial.states import MAX_COMMENT
from bedside.model import AnswerJSON

Audience = Literal["clinician", "student", "patient"]


def _unicode(value: str) -> str:
    """Refuse a lone surrogate (JSON's "\\ud800" escape): it is not text, and no database can store it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("holds a lone surrogate (text that is not valid Unicode)") from None
    return value


Text = Annotated[str, AfterValidator(_unicode)]


class AskIn(BaseModel):
    """A question, for whom, and (for a follow-up) the conversation it continues."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, examples=["How is iron deficiency treated?"])
    audience: Audience | None = Field(default=None, description="clinician (default), student or patient")
    conversation: Text | None = Field(
        default=None, max_length=100, description="an id from an earlier answer, for follow-ups"
    )
    follows: Text | None = Field(
        default=None,
        max_length=300,
        description="slug of an article this question follows up, when there is no conversation id",
    )


class ProvenanceOut(BaseModel):
    passage_id: Text
    document_id: Text
    start: int
    end: int


class ArticleOut(BaseModel):
    """An article: its review state and the public version's answer, rendered for one audience."""

    slug: str
    question: str
    status: str
    created: str
    updated: str
    version: int
    approved_at: str = Field(description="when the version shown was approved ('' while none is approved)")
    approved_by: str = Field(
        description="who approved it, as the Medical Advisory Board names them (never an email address; '' while "
        "none is approved)"
    )
    url: str
    answer: AnswerJSON


class ReviewIn(BaseModel):
    """A review action; request_changes and reject need a comment saying what to change or why."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["claim", "release", "approve", "request_changes", "reject"]
    comment: Text = Field(default="", max_length=MAX_COMMENT)
    version: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="the version reviewed (the `version` GET /api/articles/{slug}/review gave): required for claim "
        "and approve; 409 when a newer version exists",
    )
    override: bool = Field(
        default=False,
        description="approve editor statements that bedside's check did not find in their cited sources (the "
        "comment gives the reason; the audit log records the override)",
    )


class EditStatementIn(BaseModel):
    """A statement: its text and at least one citation (a reference number); provenance is kept as given."""

    text: Text
    citations: list[int]
    provenance: list[ProvenanceOut] = Field(default_factory=list)


class EditSectionIn(BaseModel):
    heading: Text
    statements: list[EditStatementIn]


class EditReferenceIn(BaseModel):
    """A reference of the version being edited (by document id), possibly renumbered; its details stay as stored."""

    number: int
    document_id: Text


class EditIn(BaseModel):
    """An editor's new version: the answer JSON's title, bottom line, sections and (optionally) references.

    Other fields of the answer JSON are ignored (they are kept from the version edited), so a client may send back
    what GET /api/articles/{slug} gave it. `base`, when given, is the version edited: a newer one means 409.
    """

    model_config = ConfigDict(extra="ignore")

    title: Text | None = None
    bottom_line: list[EditStatementIn]
    sections: list[EditSectionIn] = Field(default_factory=list)
    references: list[EditReferenceIn] | None = None
    base: int | None = Field(default=None, ge=1)

    def answer(self) -> dict[str, Any]:
        """The edit as the article service takes it."""
        return self.model_dump(exclude={"base"}, exclude_none=True)


class ReviewOut(BaseModel):
    """An article's review state after an action."""

    slug: str
    status: str
    version: int = Field(description="the latest version's number")
    claimed_by: str
    approved_by: str
    approved_at: str
    approved_version: int
    url: str

    @classmethod
    def from_domain(cls, article: Article) -> ReviewOut:
        return cls(
            slug=article.slug,
            status=article.status.value,
            version=article.latest.number,
            claimed_by=article.claimed_by,
            approved_by=article.approved_by,
            approved_at=article.approved_at,
            approved_version=article.approved_version,
            url=f"/articles/{article.slug}",
        )


class ReviewDetailOut(ReviewOut):
    """An article as a reviewer acts on it: its review state and its latest version's answer, as stored."""

    answer: AnswerJSON = Field(description="the latest version: claim and approve name its `version`")

    @classmethod
    def of(cls, article: Article, answer: dict[str, Any]) -> ReviewDetailOut:
        return cls(**ReviewOut.from_domain(article).model_dump(), answer=AnswerJSON.model_validate(answer))


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
            slug=article.slug,
            title=str(version.answer.get("title") or article.question),
            question=article.question,
            status=article.status.value,
            updated=article.updated,
            url=f"/articles/{article.slug}",
        )


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

    error: str = Field(
        description="unauthorized, forbidden, not_found, invalid_input, conflict, too_many_requests, unavailable "
        "or internal"
    )
    detail: str
