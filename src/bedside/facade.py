"""`Bedside`: the one object that users, the CLI, the web app and benchmarks drive."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bedside import starter_kb
from bedside.answer.breaker import CircuitBreaker
from bedside.config import Settings, load_settings
from bedside.errors import InvalidInput, NotFound
from bedside.index.hybrid import HybridSearcher
from bedside.index.protocols import Embedder, Filters, SyncProgress
from bedside.index.sentence_vectors import CachedEmbeddings, SentenceVectors
from bedside.index.vectors import VectorIndex
from bedside.knowledge import Collection, IngestProgress, IngestReport, KnowledgeBase
from bedside.model import Answer, Document, EvidenceType, IndexRow, Passage, SearchHit, SourceState
from bedside.reading import Reader
from bedside.search_backends import open_embedder, open_indexes
from bedside.starter_kb import shipped_vectors
from bedside.store import open_knowledge_store
from bedside.store.conversations import ConversationStore
from bedside.store.private import private_dir

if TYPE_CHECKING:
    from bedside.answer.pipeline import Composer

_STARTER_KEY = "starter_kb"


class IndexContents(NamedTuple):
    """What a search index holds, for integrity checks."""

    name: str
    seqs: list[int]  # every indexed passage's sequence number, ascending, repeats kept
    watermark: int  # the last change of the store's log it has applied


class Bedside:
    """A knowledge base in one data directory, with search and (later) answers over it."""

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        starter_kb: bool | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        if settings is None:
            settings = load_settings(data_dir=data_dir, starter_kb=starter_kb)
        else:
            overrides: dict[str, Any] = {}
            if data_dir is not None:
                overrides["data_dir"] = Path(data_dir)
            if starter_kb is not None:
                overrides["starter_kb"] = starter_kb
            settings = settings.model_copy(update=overrides)
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        private_dir(self.data_dir)
        self.store = open_knowledge_store(settings.knowledge_location)
        self.notices: list[str] = []
        embedder = open_embedder(settings, self.store, self.notices.append)
        seed = shipped_vectors(embedder, self.notices.append) if embedder is not None else None
        # `_milvus`: the Milvus client both Milvus indexes share, when that is the search backend.
        self.lexical, self.dense, self._milvus = open_indexes(settings, self.store, embedder, seed)
        indexes = [self.lexical] + ([self.dense] if self.dense is not None else [])
        self.kb = KnowledgeBase(self.store, indexes)
        # Sentence vectors back the optional rerank stage (FusionConfig.rerank_depth, off by default).
        self.sentences = (
            SentenceVectors(self.data_dir / "vectors" / "sentences.sqlite", self.dense.embedder) if self.dense else None
        )
        self.searcher = HybridSearcher(self.store, self.lexical, self.dense, sentences=self.sentences)
        self.searcher.priorities = self.kb.collection_priorities()
        # Sentence vectors for the composer's agreement-in-meaning score (opt-in); hashing vectors carry no meaning.
        self.sentence_embed = (
            CachedEmbeddings(self.dense.embedder)
            if settings.answer_semantic and self.dense and not self.dense.embedder.name.startswith("hashing")
            else None
        )
        self._starter_checked = False
        self.conversations = ConversationStore(self.data_dir / "conversations.sqlite")
        # One breaker for the LLM endpoint across answers, so an outage pauses it for all of them.
        self.llm_breaker = CircuitBreaker(settings.llm_failures_to_pause, settings.llm_retry_after)
        # Entered around each wait on the LLM endpoint: a caller serialising access to this Bedside may release
        # its lock for that time (nothing of this object is used while waiting).
        self.llm_wait: Callable[[], AbstractContextManager[object]] = nullcontext
        self.kb.sync_indexes()  # finish whatever a crash interrupted

    def set_llm_wait(self, wait: Callable[[], AbstractContextManager[object]]) -> None:
        """Enter `wait()` around each wait on the LLM endpoint: a caller serialising access to this Bedside may
        release its lock for that time (nothing of this object is used while waiting)."""
        self.llm_wait = wait

    def refresh_search_in_background(self) -> None:
        """After later changes, let searches go on with the previous vector snapshot while the new one is built in
        a background thread (a long-running server wants this; a one-off command waits instead)."""
        if isinstance(self.dense, VectorIndex):
            self.dense.refresh_in_background = True

    def open_reader(self) -> Reader:
        """Connections of their own to this knowledge base and its conversations, for reading beside it."""
        return Reader(self.store.reopen(), self.conversations.reopen())

    def set_sync_progress(self, progress: SyncProgress | None) -> None:
        """Report index building (embedding) progress, e.g. to a progress bar."""
        self.kb.sync_progress = progress

    def close(self) -> None:
        """Release files and connections."""
        if self.dense is not None:
            self.dense.close()
            closer = getattr(self.dense.embedder, "close", None)  # an endpoint's connection pool
            if callable(closer):
                closer()
        if self.sentences is not None:
            self.sentences.close()
        self.lexical.close()
        if self._milvus is not None:
            self._milvus.close()
        self.conversations.close()
        self.store.close()

    def __enter__(self) -> Bedside:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- knowledge base ------------------------------------------------------------------------

    def ingest(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        format: str | None = None,  # noqa: A002 - the public keyword
        evidence_type: str | None = None,
        progress: IngestProgress | None = None,
        collection: str = "",
    ) -> IngestReport:
        """Read files, folders and globs into the knowledge base (into a named collection when given)."""
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        etype = EvidenceType.parse(evidence_type) if evidence_type else None
        report = self.kb.ingest(paths, fmt=format, evidence_type=etype, progress=progress, collection=collection)
        self.searcher.priorities = self.kb.collection_priorities()
        return report

    def collections(self) -> list[Collection]:
        """Named collections with their priority, label and document count."""
        return self.kb.collections()

    def set_collection(self, name: str, *, priority: int | None = None, label: str | None = None) -> Collection:
        """Set a collection's priority over the literature and its label in reference lists."""
        found = self.kb.set_collection(name, priority=priority, label=label)
        self.searcher.priorities = self.kb.collection_priorities()
        return found

    def prepare_search(self) -> None:
        """Build the dense index's search snapshot for the latest changes now (at a million passages this takes
        tens of seconds after a change) rather than in the next search. `bedside ingest` calls it when done."""
        if isinstance(self.dense, VectorIndex):
            self.dense.prepare()

    def search(
        self,
        query: str,
        limit: int = 10,
        *,
        evidence_type: str | list[str] | None = None,
        year_min: int | None = None,
        year_max: int | None = None,
        source: str | list[str] | None = None,
        document_id: str | list[str] | None = None,
        priors: bool = True,
        include_withdrawn: bool = False,
    ) -> list[SearchHit]:
        """Hybrid search over passages, best first; filters restrict by type, years, source or document.

        Retracted articles and notices about articles are left out unless `include_withdrawn`."""
        if not query or not query.strip():
            raise InvalidInput("query is empty")
        if limit < 1:
            raise InvalidInput("limit must be at least 1")
        self.ensure_starter_kb()
        try:
            types = frozenset(EvidenceType.parse(t) for t in _as_list(evidence_type))
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        filters = Filters(
            evidence_types=types,
            year_min=year_min,
            year_max=year_max,
            sources=frozenset(_as_list(source)),
            document_ids=frozenset(_as_list(document_id)),
            include_withdrawn=include_withdrawn,
        )
        config = replace(self.searcher.config, priors=priors, depth=max(self.searcher.config.depth, limit))
        return self.searcher.search(query, limit, filters, config)

    def ask(
        self,
        question: str,
        audience: str = "clinician",
        conversation: str | None = None,
        evidence: list[dict[str, Any]] | None = None,
        *,
        llm: bool = False,
        on_statement: Callable[[str], None] | None = None,
        today: date | None = None,
    ) -> Answer:
        """Answer a clinical question with cited statements; see interfaces.md for the JSON form.

        `evidence` composes from exactly those passages, without retrieval. `llm` uses the configured
        OpenAI-compatible endpoint (falling back to the extractive composer, with a notice, when it fails).
        """
        from bedside.answer.pipeline import AskContext, answer_question

        previous: list[str] = []
        if conversation:
            previous = self.conversations.questions(conversation)
        if evidence is None:
            self.ensure_starter_kb()
        stamp = (today or date.today()).isoformat()
        ctx = AskContext(
            search=lambda q, n: self.searcher.search(q, n, None, replace(self.searcher.config, depth=100)),
            search_in=lambda q, n, ids: self.searcher.search(
                q, n, Filters(document_ids=frozenset(ids)), replace(self.searcher.config, depth=100)
            ),
            known_terms=self.lexical.known,
            named_terms=self.lexical.named,
            collection_label=lambda name: self.kb.collection(name).label,
            documents=self.store.documents,
            today=stamp,
            previous_questions=tuple(previous),
            llm=self._llm_composer() if llm else None,
            on_statement=on_statement,
            embed=self.sentence_embed,
        )
        answer = answer_question(question, audience, ctx, evidence)
        if conversation is None:
            conversation = self.conversations.new(stamp)
        answer = replace(answer, conversation=conversation)
        self.conversations.add(conversation, answer.question, answer.to_dict(), stamp)
        return answer

    def _llm_composer(self) -> Composer:
        from bedside.answer.breaker import GuardedClient
        from bedside.answer.llm import LlmComposer
        from bedside.llm_client import OpenAICompatibleClient

        s = self.settings
        if not s.llm_base_url or not s.llm_model:
            raise InvalidInput("no LLM endpoint configured: set BEDSIDE_LLM_BASE_URL and BEDSIDE_LLM_MODEL")
        endpoint = OpenAICompatibleClient(s.llm_base_url, s.llm_model, s.llm_api_key, timeout=s.llm_timeout)
        client = GuardedClient(endpoint, self.llm_breaker, self.llm_wait)
        return LlmComposer(client, s.llm_model, embedder=self.verify_embedder())

    def verify_embedder(self) -> Embedder | None:
        """The embedder that checks LLM statements against their passages: the retrieval model, whose cosines the
        verifier's thresholds were calibrated on (bench/calibrate_verify.py); None (lexical support alone) when
        dense retrieval is off."""
        return self.dense.embedder if self.dense is not None else None

    def remove(self, document_id: str) -> None:
        """Remove one document by id."""
        self.kb.remove(document_id)

    def source_states(self, ids: list[str]) -> dict[str, SourceState]:
        """What the knowledge base says now about these documents (absent: removed), for "sources changed"."""
        return self.kb.source_states(ids)

    def compose_article(self, question: str, *, llm: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
        """A fresh clinician answer for an article's question, as the article service stores it: the answer JSON
        and its sources (cited document id -> content hash)."""
        answer = self.ask(question, "clinician", llm=llm)
        return answer.to_dict(), self.store.hashes([r.document_id for r in answer.references])

    def document(self, document_id: str) -> Document:
        """One document, whole; NotFound for an unknown id."""
        return self.store.document(document_id)

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents among these ids that exist."""
        return self.store.documents(ids)

    def counts(self) -> tuple[int, int]:
        """(documents, passages) in the knowledge base."""
        return self.store.counts()

    def index_rows(self) -> list[IndexRow]:
        """Every passage joined with its document's facts, as the indexes take them."""
        return self.store.index_rows(None)

    def start_conversation(self, now: str, owner: str = "") -> str:
        """A new conversation belonging to `owner` (a web client's key; "" for the CLI and the Python API)."""
        return self.conversations.new(now, owner)

    def record_turn(self, conversation: str, question: str, answer: dict[str, Any], now: str) -> None:
        """Append a question and its answer's JSON to a conversation."""
        self.conversations.add(conversation, question, answer, now)

    # -- integrity checks ----------------------------------------------------------------------

    def store_problems(self) -> list[str]:
        """What is wrong in the knowledge store: SQLite's own check, orphan passages, passage counts, and passages
        whose text is not their document's text at their span."""
        problems = self.store.check_integrity()
        spans = self.store.span_mismatches()
        if spans:
            problems.append(f"passages not matching their document's text: {', '.join(spans)}")
        return problems

    def store_position(self) -> tuple[list[int], int]:
        """Every stored passage's sequence number, ascending, and the newest change of the store's log."""
        return self.store.seqs(), self.store.last_change()

    def index_contents(self) -> dict[str, IndexContents]:
        """What the lexical and (when in use) the dense index hold; keys "lexical" and "dense"."""
        found = {"lexical": IndexContents(self.lexical.name, self.lexical.seqs(), self.lexical.watermark())}
        if self.dense is not None:
            found["dense"] = IndexContents(self.dense.name, self.dense.seqs(), self.dense.watermark())
        return found

    def first_passage(self) -> Passage | None:
        """The first stored passage, or None for an empty knowledge base."""
        found = next(self.store.iter_passages(batch=1), None)
        return found[1] if found is not None else None

    def stats(self) -> dict[str, Any]:
        """{"documents", "passages", "by_type", "by_source"}."""
        self.ensure_starter_kb()
        return self.kb.stats()

    # -- starter knowledge base ----------------------------------------------------------------

    def starter_status(self) -> dict[str, Any]:
        """What of the starter knowledge base is loaded, and whether it matches this version of bedside."""
        state = json.loads(self.store.get_meta(_STARTER_KEY) or "{}")
        shipped = starter_kb.digest_files()
        return {
            "enabled": self.settings.starter_kb and not state.get("unloaded"),
            "loaded": bool(state.get("ids")),
            "documents": len(state.get("ids", [])),
            "shipped": len(shipped),
            "current": state.get("fingerprint") == starter_kb.fingerprint(),
        }

    def ensure_starter_kb(self, progress: IngestProgress | None = None) -> IngestReport | None:
        """Load (or refresh) the shipped digests when enabled and not already current; else do nothing."""
        if self._starter_checked or not self.settings.starter_kb:
            return None
        self._starter_checked = True
        fingerprint = starter_kb.fingerprint()
        state = json.loads(self.store.get_meta(_STARTER_KEY) or "{}")
        if state.get("fingerprint") == fingerprint or state.get("unloaded"):
            return None
        report = self.kb.ingest([starter_kb.DIGESTS], progress=progress)
        ids = sorted(self.store.document_ids(origin_prefix=str(starter_kb.DIGESTS)))
        for stale in set(state.get("ids", [])) - set(ids):
            self.kb.remove(stale)
        if report.ok:
            self.store.set_meta(_STARTER_KEY, json.dumps({"fingerprint": fingerprint, "ids": ids}))
        return report

    def unload_starter_kb(self) -> int:
        """Remove the starter digests from this data directory; returns how many were removed."""
        state = json.loads(self.store.get_meta(_STARTER_KEY) or "{}")
        ids = state.get("ids", [])
        for doc_id in ids:
            try:
                self.kb.remove(doc_id)
            except NotFound:  # already gone
                continue
        self.store.set_meta(_STARTER_KEY, json.dumps({"unloaded": True}))
        return len(ids)

    def load_starter_kb(self, progress: IngestProgress | None = None) -> IngestReport | None:
        """Load the starter digests again after `unload_starter_kb` (or refresh them)."""
        self.store.set_meta(_STARTER_KEY, "{}")
        self._starter_checked = False
        return self.ensure_starter_kb(progress)


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
