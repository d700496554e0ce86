"""`Reader`: connections of their own to a `Bedside`'s knowledge store and conversations, for a caller that reads
(source passages, counts, conversation trails) while the `Bedside` itself is busy composing an answer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bedside.model import Document, Passage
from bedside.store import KnowledgeStore
from bedside.store.conversations import ConversationStore

__all__ = ["Reader"]


class Reader:
    """Reads only; not safe for concurrent use (hold a lock around each call, or open one a thread)."""

    def __init__(self, store: KnowledgeStore, conversations: ConversationStore) -> None:
        self._store = store
        self._conversations = conversations

    def close(self) -> None:
        """Close both connections."""
        self._store.close()
        self._conversations.close()

    def documents(self, ids: Iterable[str]) -> dict[str, Document]:
        """The documents among these ids that exist."""
        return self._store.documents(ids)

    def document_ids(self, *, origin_prefix: str | None = None) -> list[str]:
        """All document ids, optionally only those read from files under a path prefix."""
        return self._store.document_ids(origin_prefix=origin_prefix)

    def passages(self, ids: Iterable[str]) -> dict[str, Passage]:
        """The passages among these ids that exist."""
        return self._store.passages(ids)

    def passages_of(self, document_id: str) -> list[Passage]:
        """A document's passages in reading order."""
        return self._store.passages_of(document_id)

    def stats(self) -> dict[str, Any]:
        """Counts overall, by evidence type and by source."""
        return dict(self._store.stats())

    def questions(self, conversation: str, owner: str | None = None) -> list[str]:
        """A conversation's questions, oldest first (NotFound for an unknown id or another owner's)."""
        return self._conversations.questions(conversation, owner)

    def turns(self, conversation: str, owner: str | None = None) -> list[dict[str, Any]]:
        """A conversation's turns with their answers' JSON (NotFound as for `questions`)."""
        return self._conversations.turns(conversation, owner)
