"""`create_app(settings)`: the FastAPI app serving the pages, the JSON API, static assets and local API docs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bedside import __version__
from bedside.config import Settings, load_settings
from bedside.editorial.interface import ArticleService
from bedside.facade import Bedside
from bedside.store.datafiles import LEGACY_SESSIONS
from bedside.web import api, docs, http_errors, pages, review_pages
from bedside.web.article_backend import EditorialService, open_articles
from bedside.web.identity import Auth
from bedside.web.limits import Limits, RequestLimits
from bedside.web.review import ReviewDesk
from bedside.web.site import WebService

HERE = Path(__file__).parent
# No inline script or style anywhere (the API reference at /docs included): every script is a static file, every
# image one of ours.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
GZIP_MIN_BYTES = 500
# Only over TLS (RFC 6797 7.2: a browser ignores it over plain http, and it must never pin a plain-http site).
HSTS = b"max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """Content-Security-Policy, nosniff, a strict referrer policy and no framing on every response, and
    Strict-Transport-Security on those served over HTTPS (directly, or behind a proxy whose X-Forwarded-Proto
    uvicorn trusts: it sets the scope's scheme)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"strict-origin-when-cross-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if scope.get("scheme") == "https":
                    headers.append((b"strict-transport-security", HSTS))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


IMMUTABLE = "public, max-age=31536000, immutable"  # a fingerprinted file never changes under its address
FONTS = "public, max-age=604800"
REVALIDATE = "public, max-age=3600"


class CachedStatic(StaticFiles):
    """Static files with cache lifetimes: a year for fingerprinted addresses (`?v=` this version, as the pages link
    them), a week for the fonts, an hour for anything else."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            if query.get("v") == [__version__]:
                response.headers["Cache-Control"] = IMMUTABLE
            else:
                response.headers["Cache-Control"] = FONTS if path.startswith("fonts/") else REVALIDATE
        return response


class Compressed:
    """gzip for responses of GZIP_MIN_BYTES or more whose client accepts it (server-sent events stay uncompressed:
    Starlette's GZipMiddleware excludes them). The debug message that carries a page's template to test clients goes
    around the compressor, which would drop it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def app(scope: Scope, receive: Receive, compress: Send) -> None:
            async def route(message: Message) -> None:
                await (send if message["type"] == "http.response.debug" else compress)(message)

            await self.app(scope, receive, route)

        await GZipMiddleware(app, minimum_size=GZIP_MIN_BYTES)(scope, receive, send)


class BedsideApp(FastAPI):
    """FastAPI with SecurityHeaders outside every other layer, so that the 500 page (sent by Starlette's outermost
    error middleware) carries the headers too, and the request limits next, before any layer reads a body."""

    limits = Limits()

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(RequestLimits(super().build_middleware_stack(), self.limits))


def templates() -> Jinja2Templates:
    """The page templates; autoescaping is on for every template, whatever its name."""
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["version"] = __version__
    env.filters["web_link"] = web_link
    env.filters["link_label"] = link_label
    env.filters["human_date"] = human_date
    return Jinja2Templates(env=env)


MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def human_date(value: str) -> str:
    """An ISO date (or date-time) as people write it: "2026-12-06" -> "6 December 2026"; anything else as given."""
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def web_link(url: str) -> str:
    """The URL when it is an http(s) link, else "": a source's `javascript:` or `data:` URL never becomes a link."""
    parts = urlsplit(url.strip())
    return url.strip() if parts.scheme in ("http", "https") and parts.netloc else ""


def link_label(url: str) -> str:
    """A short label for a reference link: the DOI, the PubMed id, or the site's host name."""
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    if host in ("doi.org", "dx.doi.org"):
        return "doi:" + parts.path.lstrip("/")
    if host == "pubmed.ncbi.nlm.nih.gov":
        return "PubMed " + parts.path.strip("/")
    return host or url


def create_app(
    settings: Settings | None = None, *, bedside: Bedside | None = None, articles: ArticleService | None = None
) -> FastAPI:
    """Build the app: opens the knowledge base (loading the starter digests when enabled) and the articles.

    Refuses to start in production without a secret key (BEDSIDE_SECRET_KEY) to sign session cookies with.
    """
    settings = settings or (bedside.settings if bedside is not None else load_settings())
    auth = Auth(settings, None)  # first: a production app without a secret key stops before opening anything
    cds_state = None
    if settings.cds_hooks:  # likewise CDS Hooks without trusted keys
        from bedside.web.cds import CdsState

        cds_state = CdsState(settings)
    owned, owned_articles = bedside is None, articles is None
    engine = bedside or Bedside(settings=settings)
    engine.ensure_starter_kb()
    # Open the search snapshot before the first request. After later changes (an ingest from the CLI beside the
    # server), requests go on with the previous snapshot while the new one is built in the background; an engine
    # handed in by the caller keeps the caller's choice.
    engine.prepare_search()
    if owned:
        engine.refresh_search_in_background()
    service = WebService(engine, articles or open_articles(settings))
    editorial = service.articles if isinstance(service.articles, EditorialService) else None
    auth.accounts = editorial
    if editorial is not None:  # sessions an earlier release kept in the data directory: still signed in
        editorial.sessions.adopt_file(settings.data_dir / LEGACY_SESSIONS)
        editorial.check_sources(engine.source_states)  # the knowledge base may have changed while the server was down

    mcp_http = None
    if settings.mcp_http:
        from bedside.web.mcp_http import McpHttp

        mcp_http = McpHttp(service, settings.mcp_rate_per_minute)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if mcp_http is not None:
            async with mcp_http.server.session_manager.run():
                yield
        else:
            yield
        service.close()
        close = getattr(service.articles, "close", None)
        if owned_articles and callable(close):
            close()
        if owned:
            engine.close()

    app = BedsideApp(
        title="bedside",
        version=__version__,
        description="Cited clinical answers from a knowledge base you control. The JSON API behind the web pages.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        debug=settings.debug,
    )
    app.limits = Limits(settings.max_body_bytes, settings.body_timeout, settings.max_requests_in_flight)
    app.state.service = service
    app.state.auth = auth
    app.state.desk = ReviewDesk(service, editorial) if editorial is not None else None
    app.state.templates = templates()
    if settings.cors_origins:  # only when configured: without it browsers keep the API same-origin
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    http_errors.install(app)
    app.add_middleware(Compressed)
    app.mount("/static", CachedStatic(directory=HERE / "static"), name="static")
    docs.mount(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(review_pages.router)
    if mcp_http is not None:
        app.mount("/mcp", mcp_http)
    if cds_state is not None:
        from bedside.web import cds

        app.state.cds = cds_state
        app.include_router(cds.router)
    return app
