"""The one service behind the pages and the JSON API: ask, read, list and search articles, describe sources.

Asking the same question twice (after `normalise_question`) opens the same article: `ArticleService.article_for`
composes only for a new question. Follow-ups are keyed by the question as resolved against the conversation, so
"what about in pregnancy?" after two different questions makes two different articles.

`Bedside` is not safe for concurrent use, so every call into it holds one lock (handlers run in worker threads),
released only while an answer waits for the LLM endpoint. New questions pass an admission gate first (bounded
concurrency and queue: 503 with Retry-After beyond it). Reading documents (source passages, counts) and
conversation trails goes through separate connections with their own lock, so pages stay quick while answers are
being composed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from datetime import date
from typing import Any

from bedside import __version__, starter_kb
from bedside.answer.evidence import EvidencePassage
from bedside.answer.extractive import title_for
from bedside.answer.followup import resolved_question
from bedside.answer.identifiers import scrub_identifiers
from bedside.answer.pipeline import validate
from bedside.answer.question import plan
from bedside.answer.verify import VerifyThresholds, verify_statement
from bedside.editorial.edits import Verdict
from bedside.editorial.interface import Article, ArticleService, ReviewStatus, Role, User
from bedside.errors import InvalidInput, NotFound
from bedside.facade import Bedside
from bedside.model import Answer, Document, EvidenceType, Passage, SearchHit
from bedside.text.slugs import slug_for
from bedside.web.admission import AskGate
from bedside.web.article_backend import EditorialService
from bedside.web.asked import (
    Asked,
    TrailItem,
    first_asked,
    is_article,
    unpublished_answer,
    with_digests,
    with_removed_notice,
)
from bedside.web.views import ArticleView, article_view, check_audience, cited_documents, public_answer

EXAMPLE_COUNT = 6
CHECK_PASSAGES = 60


BOARD_MEMBER = "a member of the Medical Advisory Board"  # a reviewer who has not set a display name


class _NoArticle(Exception):
    """Raised from inside `article_for`'s compose so that an abstaining answer is never stored as an article."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("the answer abstained")
        self.answer = answer


class WebService:
    """Articles and the knowledge base, as the web app sees them."""

    def __init__(
        self,
        bedside: Bedside,
        articles: ArticleService,
        *,
        today: Callable[[], date] = date.today,
        gate: AskGate | None = None,
    ) -> None:
        self.bedside = bedside
        self.articles = articles
        s = bedside.settings
        self.gate = gate or AskGate(s.ask_concurrency, s.ask_queue, s.ask_wait)
        self._lock = threading.Lock()
        bedside.set_llm_wait(self._unlocked)  # other requests go on while an answer waits for the LLM endpoint
        self._reader = bedside.open_reader()
        self._read_lock = threading.Lock()
        self._today = today
        self._examples: list[str] | None = None

    def close(self) -> None:
        """Close the service's own connections (not the Bedside it was given)."""
        self._reader.close()

    @property
    def llm_enabled(self) -> bool:
        """Whether an LLM endpoint is configured (answers then stream, and are verified at the end)."""
        s = self.bedside.settings
        return bool(s.llm_base_url and s.llm_model)

    @contextmanager
    def _unlocked(self) -> Iterator[None]:
        """Release the Bedside lock while this thread (which holds it) waits on the network."""
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()

    # -- asking ----------------------------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        audience: str | None = None,
        conversation: str | None = None,
        on_statement: Callable[[str], None] | None = None,
        *,
        follows: str | None = None,
        gone: Callable[[], bool] | None = None,
        owner: str = "",
    ) -> Asked:
        """Open the article for this question (composing it when new) and record the turn in the conversation.

        `follows` (an article's slug) starts a conversation from that article when no conversation id is given.
        `owner` (the client's key) owns a new conversation; a given one must be its own, else NotFound.
        A new question needs a slot at the gate: Overloaded (503, Retry-After) when none comes free in time,
        Abandoned when `gone()` says the client left while waiting; either way nothing is written.
        """
        audience = audience or self.bedside.settings.default_audience
        removed = scrub_identifiers(question).removed if isinstance(question, str) else ()
        question = validate(question, check_audience(audience))  # identifiers gone before anything is stored
        stamp = self._today().isoformat()
        earlier = self.articles.get(follows) if follows and not conversation else None
        key = self._key(question, conversation, earlier, owner)
        with self._admission(key, gone), self._lock:
            bedside = self.bedside
            if earlier is not None:
                conversation = bedside.start_conversation(stamp, owner)
                earlier_answer = public_answer(earlier, "clinician").to_dict()
                bedside.record_turn(conversation, first_asked(earlier), earlier_answer, stamp)
            conversation = conversation or bedside.start_conversation(stamp, owner)
            sources: dict[str, str] = {}
            composed: list[Answer] = []

            def compose() -> dict[str, Any]:
                answer = self.bedside.ask(
                    question, "clinician", conversation, llm=self.llm_enabled, on_statement=on_statement
                )
                if key != question:  # a follow-up: titled and stored by the question it resolves to
                    answer = replace(answer, question=key, title=title_for(plan(key)))
                if not is_article(answer):
                    raise _NoArticle(answer)
                docs = self.bedside.documents(cited_documents(answer))
                sources.update({doc_id: d.content_hash for doc_id, d in docs.items()})
                composed.append(answer)
                return answer.to_dict()

            try:
                article = self.articles.article_for(key, compose, sources)
            except _NoArticle as abstained:  # shown to the asker (the turn is in the conversation), never published
                shown = replace(unpublished_answer(abstained.answer, audience), conversation=conversation)
                return Asked(None, with_removed_notice(shown, removed), conversation, removed)
            answer = replace(public_answer(article, audience), conversation=conversation)
            if not composed:  # an existing article: the turn still belongs to this conversation
                bedside.record_turn(conversation, question, answer.to_dict(), stamp)
        return Asked(article, with_removed_notice(answer, removed), conversation, removed)

    def _key(self, question: str, conversation: str | None, earlier: Article | None, owner: str) -> str:
        """The question as resolved against the conversation (or the article it follows): the article's key, so a
        follow-up's article stands on its own ("... deficiency in pregnancy?", not "What about in pregnancy?")."""
        previous = [first_asked(earlier)] if earlier else self.conversation_trail(conversation or "", owner)
        return resolved_question(question, previous)

    def _known(self, key: str) -> bool:
        try:
            found = self.articles.get(slug_for(" ".join(key.split())))
        except NotFound:
            return False
        return found.status is not ReviewStatus.REJECTED  # a rejected one is composed again: it needs a slot

    def _admission(self, key: str, gone: Callable[[], bool] | None) -> AbstractContextManager[object]:
        """No slot for a question that already has an article; the gate's slot otherwise."""
        return nullcontext() if self._known(key) else self.gate.admit(gone)

    def check(
        self,
        question: str,
        audience: str | None,
        conversation: str | None,
        follows: str | None = None,
        owner: str = "",
    ) -> None:
        """Raise what `ask` would raise for bad input (InvalidInput, NotFound) or when busy (Overloaded), without
        composing."""
        question = validate(question, check_audience(audience or self.bedside.settings.default_audience))
        earlier = self.articles.get(follows) if follows and not conversation else None
        if not self._known(self._key(question, conversation, earlier, owner)):
            self.gate.check()

    def search_evidence(
        self,
        query: str,
        limit: int,
        evidence_type: str | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
    ) -> list[SearchHit]:
        """Ranked passages (retracted articles and notices left out), for faces such as CDS Hooks and MCP."""
        with self._lock:
            return self.bedside.search(query, limit, evidence_type=evidence_type, year_min=year_min, year_max=year_max)

    def article_answer(self, question: str) -> Answer:
        """The public clinician answer of the article for this question (composed and queued for review when new)."""
        return self.ask(question, "clinician").answer

    # -- reading ---------------------------------------------------------------------------------------------------

    def article(self, slug: str, audience: str) -> tuple[Article, Answer]:
        """The article and its public version rendered for `audience`; NotFound for an unknown slug."""
        check_audience(audience)
        article = self.articles.get(slug)
        return article, public_answer(article, audience)

    def article_view(
        self, answer: Answer, conversation: str = "", article: Article | None = None, *, desk: bool = False
    ) -> ArticleView:
        """The page's view of an answer, with the exact source passage behind every citation (and, given the
        article, who approved the answer and when, when the answer shown is its approved version)."""
        ids = [p.passage_id for s in answer.statements() for p in s.provenance]
        with self._read_lock:
            docs = self._reader.documents(cited_documents(answer))
            passages = self._reader.passages(ids)
        answer = with_digests(answer, docs)
        sections = {pid: p.section for pid, p in passages.items()}
        texts = {doc_id: d.text for doc_id, d in docs.items()}
        view = article_view(answer, texts, conversation, sections, desk=desk)
        if article is not None and answer.status == ReviewStatus.APPROVED and article.approved_by:
            view = replace(view, approved_by=self.board_name(article.approved_by), approved_on=article.approved_at[:10])
        if article is not None and article.sources_changed:
            view = replace(view, sources_changes=article.sources_changes or ("a source changed",))
        return view

    def check_statement(self, text: str, documents: list[str], provenance: list[dict[str, Any]]) -> Verdict:
        """Whether the cited documents support an editor's statement, by the verifier that checks LLM statements
        (numbers and units stated in context; lexical or dense support above the calibrated thresholds).

        The passages of the statement's provenance are tried first, then the rest of each cited document (at most
        CHECK_PASSAGES a document: beyond that the statement counts as unsupported, never as supported)."""
        first = [str(p.get("passage_id", "")) for p in provenance if isinstance(p, dict)]
        with self._read_lock:
            docs = self._reader.documents(documents)
            found: dict[str, Passage] = self._reader.passages(first)
            for doc_id in docs:
                found.update({p.id: p for p in self._reader.passages_of(doc_id)[:CHECK_PASSAGES]})
        ordered = sorted(found.values(), key=lambda p: (p.id not in first, p.document_id, p.ordinal))
        cited = [
            EvidencePassage(
                p.id,
                p.document_id,
                p.text,
                p.start,
                title=docs[p.document_id].title,
                section=p.section,
                year=docs[p.document_id].year,
            )
            for p in ordered
            if p.document_id in docs
        ]
        if not cited:
            return Verdict(False, "its cited sources are no longer in the knowledge base", [])
        with self._lock:
            verdict = verify_statement(text, cited, self.bedside.verify_embedder(), VerifyThresholds())
        spans = [cited[i].provenance(a, b) for i, a, b in verdict.spans]
        return Verdict(
            verdict.ok,
            verdict.reason,
            [{"passage_id": p.passage_id, "document_id": p.document_id, "start": p.start, "end": p.end} for p in spans],
        )

    def document(self, document_id: str) -> Document:
        """One document of the knowledge base, whole (NotFound for an unknown id)."""
        with self._read_lock:
            found = self._reader.documents([document_id])
        if document_id not in found:
            raise NotFound(f"no document {document_id!r} in the knowledge base")
        return found[document_id]

    def board_name(self, email: str) -> str:
        """How the public sees the reviewer with this account: their board name, never their email address."""
        try:
            user = self.articles.get_user(email) if isinstance(self.articles, EditorialService) and email else None
        except NotFound:
            user = None
        return user.public_name if user is not None and user.public_name else BOARD_MEMBER

    def board(self) -> list[User]:
        """The Medical Advisory Board: active reviewers and admins with a display name, by name."""
        found = self.articles.list_users() if isinstance(self.articles, EditorialService) else []
        members = [u for u in found if u.active and u.display_name and u.role in (Role.REVIEWER, Role.ADMIN)]
        return sorted(members, key=lambda u: u.display_name.lower())

    def last_answer(self, conversation: str, audience: str, owner: str) -> Answer:
        """The latest answer of `owner`'s conversation, for an answer that was not made an article (NotFound
        otherwise, and for another client's conversation)."""
        check_audience(audience)
        with self._read_lock:
            turns = self._reader.turns(conversation, owner) if conversation else []
        if not turns:
            raise NotFound(f"no conversation with id {conversation!r}")
        answer = Answer.from_dict(turns[-1]["answer"])
        if is_article(answer):
            raise NotFound("this conversation's latest answer is an article: open it by its address")
        return replace(unpublished_answer(answer, audience), conversation=conversation)

    def trail(self, conversation: str, owner: str, slug: str = "") -> list[TrailItem]:
        """The questions of `owner`'s conversation before the page's own (the article `slug`), each as it reads on
        its own and linked to its article when it has one; the page's own question is never listed. NotFound for
        an unknown id or another client's conversation."""
        questions = self.conversation_trail(conversation, owner)
        items = []
        for i, asked in enumerate(questions):
            key = resolved_question(asked, questions[:i])
            items.append(TrailItem(key, slug_for(key)))
        own = [i for i, item in enumerate(items) if item.slug == slug]
        before = items[: own[-1]] if own else items
        shown: list[TrailItem] = []
        for item in before:
            if item.slug == slug or any(item.slug == seen.slug for seen in shown):
                continue
            shown.append(
                replace(item, url=f"/articles/{item.slug}?c={conversation}" if self._known(item.question) else "")
            )
        return shown

    def conversation_trail(self, conversation: str, owner: str) -> list[str]:
        """Earlier questions of `owner`'s conversation, oldest first ([] for none); NotFound for an unknown id or
        another client's conversation."""
        if not conversation:
            return []
        with self._read_lock:
            return self._reader.questions(conversation, owner)

    def list_articles(self, status: str | None = None, query: str = "", limit: int = 50) -> list[Article]:
        """Articles with an approved version, newest first, filtered by review status and words of the question or
        title."""
        try:
            wanted = ReviewStatus(status) if status else None
        except ValueError:
            allowed = ", ".join(s.value for s in ReviewStatus)
            raise InvalidInput(f"unknown status {status!r} (choose from {allowed})") from None
        if not 1 <= limit <= 200:
            raise InvalidInput("limit must be between 1 and 200")
        # Only reviewed articles are listed: an unreviewed one holds a question as its asker typed it, which may name
        # a patient; it stays reachable by its own address, never listed for everyone to browse. An answer that
        # abstained is never listed either (articles stored before they were refused).
        found = self.articles.list(wanted, query.strip(), limit, approved_only=True)
        return [a for a in found if a.public_version is not None and is_article(a.public_version.answer)]

    # -- the knowledge base ----------------------------------------------------------------------------------------

    def sources(self) -> dict[str, Any]:
        """Document and passage counts, by evidence type (strongest first) and by source."""
        with self._read_lock:
            stats: dict[str, Any] = self._reader.stats()
        by_type = sorted(stats["by_type"].items(), key=lambda kv: EvidenceType(kv[0]).rank)
        return {
            "documents": stats["documents"],
            "passages": stats["passages"],
            "by_type": [{"type": t, "label": EvidenceType(t).label, "documents": n} for t, n in by_type],
            "by_source": dict(sorted(stats.get("by_source", {}).items(), key=lambda kv: (-kv[1], kv[0]))),
        }

    def examples(self) -> list[str]:
        """Example questions drawn from the starter guideline digests' topics (spread across the list)."""
        if self._examples is None:
            with self._read_lock:
                ids = self._reader.document_ids(origin_prefix=str(starter_kb.DIGESTS))
                docs = self._reader.documents(ids)
            topics = sorted({d.topics[0] for d in docs.values() if d.topics and d.topics[0][:1].islower()})
            step = max(1, len(topics) // EXAMPLE_COUNT)
            templates = ("What is the first-line treatment for {}?", "How is {} diagnosed?")
            picked = topics[::step][:EXAMPLE_COUNT]
            self._examples = [templates[i % 2].format(t) for i, t in enumerate(picked)]
        return self._examples

    def health(self) -> dict[str, Any]:
        """Liveness: cheap, touches no database."""
        return {"status": "ok", "version": __version__, "llm": self.llm_enabled}
