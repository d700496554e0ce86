"""bedside as an MCP server: evidence search, cited answers and documents for AI assistants.

Two faces over the same tools. `bedside mcp` serves stdio (the assistant starts it, with the rights of whoever runs
it). `bedside serve` with BEDSIDE_MCP_HTTP also serves Streamable HTTP at `/mcp`, behind the same API tokens as
the review API (`Authorization: Bearer TOKEN`), through the web service, so new answers pass its admission gate;
every call is logged with the account that made it.

Read-only. Tools: `search_evidence` (ranked passages with their sources; retracted articles and notices left out),
`answer_question` (the article for a question: the structured answer with citations, provenance and review status,
composed and stored for review when new, exactly as the web app does) and `get_document` (a document's facts,
corrections and text). Resources: `bedside://documents/{document_id}`, a document as Markdown. Needs the optional
`mcp` extra: `pip install 'bedside[mcp]'`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from bedside.errors import BackendUnavailable, BedsideError, InvalidInput, NotFound
from bedside.model import Answer, AnswerJSON, Document, SearchHit

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from bedside.editorial.interface import ArticleService
    from bedside.facade import Bedside

__all__ = ["EngineFaces", "Faces", "build_server", "document_facts"]

MCP_HINT = "install with: pip install 'bedside[mcp]'"
MAX_TEXT = 20_000  # characters of a document's text one get_document call returns
log = logging.getLogger("bedside.mcp")


class Faces(Protocol):
    """What the tools need: the web service provides it (HTTP), `EngineFaces` over a Bedside (stdio)."""

    def search_evidence(
        self,
        query: str,
        limit: int,
        evidence_type: str | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
    ) -> list[SearchHit]: ...
    def public_answer(self, question: str, audience: str) -> Answer: ...
    def document(self, document_id: str) -> Document: ...


class EngineFaces:
    """The tools' needs met by one Bedside and article service, calls serialised (for stdio)."""

    def __init__(self, bedside: Bedside, articles: ArticleService) -> None:
        self.bedside = bedside
        self.articles = articles
        self._lock = threading.Lock()

    def search_evidence(
        self,
        query: str,
        limit: int,
        evidence_type: str | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
    ) -> list[SearchHit]:
        with self._lock:
            return self.bedside.search(query, limit, evidence_type=evidence_type, year_min=year_min, year_max=year_max)

    def public_answer(self, question: str, audience: str) -> Answer:
        from bedside.web.views import check_audience, public_answer

        check_audience(audience)
        with self._lock:
            sources: dict[str, str] = {}

            def compose() -> dict[str, Any]:
                answer, cited = self.bedside.compose_article(question)
                sources.update(cited)
                return answer

            return public_answer(self.articles.article_for(question, compose, sources), audience)

    def document(self, document_id: str) -> Document:
        with self._lock:
            return self.bedside.document(document_id)


def document_facts(d: Document, *, offset: int = 0, length: int = MAX_TEXT) -> dict[str, Any]:
    """A document as the tools show it: bibliographic facts, standing (retracted, notices), and a slice of text."""
    return {
        "document_id": d.id,
        "title": d.title,
        "type": d.evidence_type.label,
        "source": d.source,
        "year": d.year,
        "authors": list(d.authors),
        "url": d.link,
        "pmid": d.pmid,
        "doi": d.doi,
        "guideline": d.guideline,
        "collection": d.collection,
        "retracted": d.retracted,
        "notice": d.notice,
        "notes": list(d.notes()),
        "corrections": [{"kind": c.kind.value, "pmid": c.pmid, "source": c.source} for c in d.corrections],
        "license": dict(d.extra).get("license", ""),
        "text_length": len(d.text),
        "offset": offset,
        "text": d.text[offset : offset + length],
    }


def build_server(faces: Faces, *, caller: Callable[[], str] | None = None) -> MCPServer:
    """The MCP server over `faces`; `caller()` names who is calling, for the log (HTTP: the token's account)."""
    try:
        from mcp.server import MCPServer
        from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
    except ImportError:
        raise BackendUnavailable(f"the MCP server is not installed; {MCP_HINT}") from None

    @contextmanager
    def reported(tool: str, what: str) -> Iterator[None]:
        """Log the call; bedside's own errors reach the assistant with their message (others stay here)."""
        log.info("mcp %s by %s: %s", tool, caller() if caller else "local", what[:200])
        try:
            yield
        except BedsideError as exc:
            raise ToolError(str(exc)) from exc

    server = MCPServer(
        "bedside",
        instructions=(
            "Clinical evidence from this bedside knowledge base. Cite sources by their document_id; answers carry "
            "their review status: anything not 'approved' is pending human review. "
            "Retracted articles are never evidence."
        ),
    )

    @server.tool()
    def search_evidence(
        query: str,
        limit: int = 10,
        evidence_type: str | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
    ) -> dict[str, Any]:
        """Search the knowledge base's passages, best first. Each hit gives the passage text, its document id,
        title, evidence type (Guideline, Systematic review, ...), year, source and link. Retracted articles and
        retraction notices are never returned."""
        with reported("search_evidence", query):
            if not 1 <= limit <= 50:
                raise InvalidInput("limit must be between 1 and 50")
            hits = faces.search_evidence(query, limit, evidence_type, year_min, year_max)
        return {
            "query": query,
            "hits": [
                {
                    "document_id": h.document_id,
                    "passage_id": h.passage_id,
                    "title": h.title,
                    "section": h.section,
                    "type": h.evidence_type.label,
                    "year": h.year,
                    "source": h.source,
                    "url": h.url,
                    "score": h.score,
                    "start": h.start,
                    "end": h.end,
                    "text": h.text,
                    "collection": h.collection,
                }
                for h in hits
            ],
        }

    @server.tool()
    def answer_question(question: str, audience: str = "clinician") -> AnswerJSON:
        """Answer a clinical question from the knowledge base: a title, a bottom line and sections of statements,
        each with its citation numbers and provenance (passage, document, character span), numbered references,
        and the review status ('approved', or pending human review). The same question always opens the same
        article; a new one is composed and queued for review."""
        with reported("answer_question", question):
            return AnswerJSON.of(faces.public_answer(question, audience))

    @server.tool()
    def get_document(document_id: str, offset: int = 0, length: int = MAX_TEXT) -> dict[str, Any]:
        """A document by id (as search hits and references give it): its facts, whether it is retracted or a notice,
        its expressions of concern and errata, its licence, and its text from `offset` (at most `length`
        characters; `text_length` says how long the whole is)."""
        with reported("get_document", document_id):
            if offset < 0 or not 1 <= length <= MAX_TEXT:
                raise InvalidInput(f"offset must be at least 0 and length between 1 and {MAX_TEXT}")
            doc = faces.document(document_id)
        return document_facts(doc, offset=offset, length=length)

    @server.resource("bedside://documents/{document_id}", mime_type="text/markdown")
    def document_resource(document_id: str) -> str:
        """A document of the knowledge base as Markdown: its facts, then its full text."""
        log.info("mcp resource by %s: %s", caller() if caller else "local", document_id[:200])
        try:
            d = faces.document(document_id)
        except NotFound as exc:
            raise ResourceNotFoundError(str(exc)) from None
        lines = [f"# {d.title}", "", f"- Type: {d.evidence_type.label}"]
        lines += [f"- {k}: {v}" for k, v in (("Source", d.source), ("Year", d.year), ("Link", d.link)) if v]
        if d.retracted:
            lines.append("- RETRACTED: never use as evidence")
        if d.notice:
            lines.append(f"- This is a {d.notice}, not evidence")
        lines += [f"- {note}" for note in d.notes()]
        return "\n".join([*lines, "", d.text, ""])

    return server
