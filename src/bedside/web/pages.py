"""The HTML pages: thin handlers that call `WebService` and render a Jinja template (autoescaped)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from bedside.answer.identifiers import identifier_notice
from bedside.editorial.interface import ReviewStatus
from bedside.errors import InvalidInput, NotFound
from bedside.web.deps import AUDIENCE_COOKIE, Client, ClientDep, Service, client_gone, get_client
from bedside.web.schemas import ArticleSummary
from bedside.web.signing import Signer
from bedside.web.views import READERS, check_audience

router = APIRouter(include_in_schema=False)
SCRUBBED_NOTICE = identifier_notice(("a name, a number or a date of birth",))
COOKIE_AGE_S = 365 * 24 * 3600


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page, with what every page needs (the reader's audience, whether answers stream, who is signed in)."""
    templates: Jinja2Templates = request.app.state.templates
    service = request.app.state.service
    person = request.app.state.auth.current(request)
    client = get_client(request)
    base = {
        "audience": reader(request, service),
        "readers": READERS,
        "llm": service.llm_enabled,
        "page": name,
        "user": person.user if person else None,
        "csrf": person.csrf if person else "",
        "ask_token": ask_token(request, client),
    }
    response = templates.TemplateResponse(request, f"{name}.html", {**base, **context}, status_code=status)
    if person is not None:  # pages for a signed-in person are theirs alone
        response.headers["Cache-Control"] = "no-store"
    return client.keep(request, response)


def ask_token(request: Request, client: Client) -> str:
    """The token the ask forms carry: bound to this browser's client cookie, which a cross-site form post does not
    send (SameSite=Lax), so another site cannot make a visitor ask (and publish) a question."""
    signer: Signer = request.app.state.auth.signer
    return signer.mac("ask-form", client.owner)


def ask_token_ok(request: Request, client: Client, token: str) -> bool:
    signer: Signer = request.app.state.auth.signer
    return not client.new_cookie and bool(token) and signer.matches("ask-form", client.owner, token)


def reader(request: Request, service: Any) -> str:
    """The reader type remembered in the cookie, else the configured default."""
    remembered = request.cookies.get(AUDIENCE_COOKIE, "")
    return remembered if remembered in dict((r[0], 1) for r in READERS) else service.bedside.settings.default_audience


def remember(response: Response, audience: str) -> Response:
    response.set_cookie(AUDIENCE_COOKIE, audience, max_age=COOKIE_AGE_S, httponly=True, samesite="lax")
    return response


@router.get("/")
def home(request: Request, service: Service) -> Response:
    """The question box, example questions and recently approved articles."""
    return render(request, "home", home_context(service))


def home_context(service: Any, question: str = "", error: str = "") -> dict[str, Any]:
    approved = service.list_articles(ReviewStatus.APPROVED.value, limit=8)
    return {
        "examples": service.examples(),
        "approved": [ArticleSummary.from_domain(a) for a in approved],
        "question": question,
        "error": error,
    }


@router.post("/ask")
def ask(
    request: Request,
    service: Service,
    client: ClientDep,
    question: Annotated[str, Form()] = "",
    audience: Annotated[str, Form()] = "",
    conversation: Annotated[str, Form()] = "",
    follows: Annotated[str, Form()] = "",
    token: Annotated[str, Form(alias="ask_token", max_length=200)] = "",
) -> Response:
    """Ask (or follow up): opens the article, keeping the conversation id in the address (the conversation is this
    browser's: another browser opening the address sees the article without it). The form's token must be this
    browser's (CSRF): else 403 and the form again."""
    audience = audience or reader(request, service)
    if not ask_token_ok(request, client, token):
        context = home_context(service, question, "This form has expired or came from another site. Ask again here.")
        return render(request, "home", context, status=403)
    try:
        asked = service.ask(
            question,
            audience,
            conversation or None,
            follows=follows or None,
            gone=client_gone(request),
            owner=client.owner,
        )
    except InvalidInput as exc:
        return render(request, "home", home_context(service, question, str(exc)), status=422)
    target = f"{asked.path}?c={asked.conversation}" + ("&scrubbed=1" if asked.removed else "")
    return client.keep(request, remember(RedirectResponse(target, status_code=303), asked.answer.audience))


@router.get("/articles/{slug}")
def article(
    request: Request,
    slug: str,
    service: Service,
    client: ClientDep,
    audience: Annotated[str, Query(max_length=20)] = "",
    c: Annotated[str, Query(max_length=100)] = "",
    scrubbed: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """An answer article for the chosen reader (remembered in a cookie), with its review status and sources;
    `scrubbed` (set by the ask form) warns that identifiers were removed from the question."""
    chosen = check_audience(audience) if audience else reader(request, service)
    found, answer = service.article(slug, chosen)
    if scrubbed:
        answer = replace(answer, notices=(SCRUBBED_NOTICE, *answer.notices))
    try:
        trail = service.trail(c, client.owner, found.slug)
    except NotFound:  # another browser's conversation (a shared link): the article alone
        c, trail = "", []
    context = {
        "article": service.article_view(answer, c, found),
        "trail": trail,
        "audience": chosen,
        "created": found.created[:10],
    }
    response = render(request, "article", context)
    return remember(response, chosen) if audience else response


@router.get("/answer")
def unpublished(
    request: Request,
    service: Service,
    client: ClientDep,
    c: Annotated[str, Query(max_length=100)] = "",
    audience: Annotated[str, Query(max_length=20)] = "",
    scrubbed: Annotated[int, Query(ge=0, le=1)] = 0,
) -> Response:
    """An answer shown to its asker only (this browser's conversation: 404 for any other): it found too little
    evidence, so it is not an article. `scrubbed` warns that identifiers were removed from the question."""
    chosen = check_audience(audience) if audience else reader(request, service)
    answer = service.last_answer(c, chosen, client.owner)
    if scrubbed:
        answer = replace(answer, notices=(SCRUBBED_NOTICE, *answer.notices))
    context = {
        "article": service.article_view(answer, c),
        "trail": service.trail(c, client.owner)[:-1],
        "audience": chosen,
        "created": "",
        "published": False,
    }
    response = render(request, "article", context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return remember(response, chosen) if audience else response


@router.get("/search")
def search(
    request: Request,
    service: Service,
    q: Annotated[str, Query(max_length=500)] = "",
    status: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """Search the existing articles by words of their question or title, optionally by review status."""
    found = service.list_articles(status or None, q, 100)
    results = [ArticleSummary.from_domain(a) for a in found]
    statuses = [
        (s.value, s.value.replace("_", " ").capitalize()) for s in ReviewStatus if s is not ReviewStatus.REJECTED
    ]
    return render(request, "search", {"q": q, "status": status, "results": results, "statuses": statuses})


@router.get("/sources")
def sources(request: Request, service: Service) -> Response:
    """The knowledge base by evidence type and by source."""
    return render(request, "sources", {"stats": service.sources()})


@router.get("/board")
def board(request: Request, service: Service) -> Response:
    """The Medical Advisory Board: who reviews articles, with their credentials and affiliation."""
    return render(request, "board", {"members": service.board()})


@router.get("/policy")
def policy(request: Request) -> Response:
    """How sources are chosen, how answers are composed, and what the review statuses mean."""
    return render(request, "policy", {})
