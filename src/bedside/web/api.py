"""The JSON API (interfaces.md): thin handlers over `WebService`; errors are mapped in `bedside.web.http_errors`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from bedside.editorial.interface import ReviewStatus
from bedside.model import AnswerJSON
from bedside.web.deps import ApiUser, ClientDep, Desk, Service, client_gone
from bedside.web.schemas import (
    ArticleList,
    ArticleOut,
    ArticleSummary,
    AskIn,
    Audience,
    EditIn,
    ErrorOut,
    HealthOut,
    ReviewDetailOut,
    ReviewIn,
    ReviewOut,
    SourcesOut,
)
from bedside.web.stream import answer_events

router = APIRouter(prefix="/api", tags=["api"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "Unknown article or conversation"},
    422: {"model": ErrorOut, "description": "Invalid input: what is wrong is in `detail`"},
    503: {
        "model": ErrorOut,
        "description": "Busy composing other answers (`overloaded`, with a Retry-After header in seconds), or a "
        "backend is unavailable",
    },
}
_REVIEW_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No API token, or an unknown or disabled one"},
    403: {"model": ErrorOut, "description": "The token's user may not take this action (role, claim, own edit)"},
    404: {"model": ErrorOut, "description": "Unknown article"},
    409: {"model": ErrorOut, "description": "Not possible from the article's status, or someone acted first"},
    422: {"model": ErrorOut, "description": "Invalid input, e.g. a change request or rejection without a comment"},
}
# FastAPI answers 400 before validation when a body cannot be read as JSON at all (e.g. bytes that are not UTF-8).
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body could not be read as JSON"},
}


@router.post("/ask", response_model=AnswerJSON, responses={**_BODY_ERRORS, **_ERRORS})
def ask(body: AskIn, service: Service, request: Request, response: Response, client: ClientDep) -> AnswerJSON:
    """Answer a question: opens the existing article for a question asked before, or composes a new one.

    A conversation belongs to the API token (or, without one, the client cookie) that started it: follow-ups must
    send the same, else 404."""
    gone = client_gone(request)
    asked = service.ask(
        body.question, body.audience, body.conversation, follows=body.follows, gone=gone, owner=client.owner
    )
    client.keep(request, response)
    return AnswerJSON.of(asked.answer)


@router.post(
    "/ask/stream",
    responses={
        **_BODY_ERRORS,
        **_ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"},
    },
)
def ask_stream(body: AskIn, service: Service, request: Request, client: ClientDep) -> StreamingResponse:
    """As /api/ask, streamed: `statement` events (unverified drafts) then `done` with the verified answer."""
    service.check(body.question, body.audience, body.conversation, body.follows, client.owner)
    events = answer_events(service, body.question, body.audience, body.conversation, body.follows, client.owner)
    streamed = StreamingResponse(
        events, media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    client.keep(request, streamed)
    return streamed


@router.get("/articles/{slug}", response_model=ArticleOut, responses=_ERRORS)
def article(slug: str, service: Service, audience: Audience = "clinician") -> ArticleOut:
    """One article's public version, rendered for `audience`."""
    found, answer = service.article(slug, audience)
    version = found.public_version
    return ArticleOut(
        slug=found.slug,
        question=found.question,
        status=found.status.value,
        created=found.created,
        updated=found.updated,
        version=version.number if version else 0,
        approved_at=found.approved_at,
        approved_by=service.board_name(found.approved_by) if found.approved_by else "",
        url=f"/articles/{found.slug}",
        answer=AnswerJSON.of(answer),
    )


@router.get("/articles/{slug}/review", response_model=ReviewDetailOut, responses=_REVIEW_ERRORS)
def review_state(slug: str, user: ApiUser, desk: Desk) -> ReviewDetailOut:
    """The article as the token's user reviews it: its review state and its latest version (send that `version`
    with claim and approve)."""
    found, answer = desk.latest(slug)
    return ReviewDetailOut.of(found, answer)


@router.post("/articles/{slug}/review", response_model=ReviewOut, responses={**_BODY_ERRORS, **_REVIEW_ERRORS})
def review(slug: str, body: ReviewIn, user: ApiUser, desk: Desk) -> ReviewOut:
    """Take a review action as the token's user: claim, release, approve, request_changes or reject."""
    article = desk.review(slug, body.action, user, body.comment, body.version, override=body.override)
    return ReviewOut.from_domain(article)


@router.post(
    "/articles/{slug}/versions", response_model=ReviewOut, status_code=201, responses={**_BODY_ERRORS, **_REVIEW_ERRORS}
)
def new_version(slug: str, body: EditIn, user: ApiUser, desk: Desk) -> ReviewOut:
    """Save an editor's version (every statement cited, sources unchanged); the article goes back to submitted."""
    return ReviewOut.from_domain(desk.edit(slug, user, body.answer(), base=body.base))


@router.get("/articles", response_model=ArticleList, responses=_ERRORS)
def articles(
    service: Service,
    status: Annotated[ReviewStatus | None, Query(description="only articles in this review status")] = None,
    q: str = Query("", max_length=500, description="words of the question or title"),
    limit: int = Query(50, ge=1, le=200),
) -> ArticleList:
    """Articles, newest first."""
    found = service.list_articles(status or None, q, limit)
    return ArticleList(articles=[ArticleSummary.from_domain(a) for a in found])


@router.get("/sources", response_model=SourcesOut)
def sources(service: Service) -> dict[str, Any]:
    """What the knowledge base holds, by evidence type and by source."""
    return service.sources()


@router.get("/health", response_model=HealthOut)
async def health(service: Service) -> dict[str, Any]:
    """Liveness."""
    return service.health()
