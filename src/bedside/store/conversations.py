"""Conversations: the questions and answers of a follow-up thread, so a follow-up can use earlier context.

A conversation made through the web app belongs to the browser or API token that made it (`owner`, a hash of the
client's cookie or token): read or extended with any other owner it is not found, so an id seen in a shared link
or a Referer opens nothing. The command line and the Python API pass no owner and are not checked.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from bedside.errors import NotFound
from bedside.store.sqlite import Schema, add_missing_columns, open_database, run_step, transaction

_TABLES = """
CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, created TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS turns (conversation TEXT NOT NULL REFERENCES conversations(id), n INTEGER NOT NULL,
    question TEXT NOT NULL, answer TEXT NOT NULL, created TEXT NOT NULL, PRIMARY KEY (conversation, n))
"""


def _adopt(db: sqlite3.Connection) -> None:
    """A file from before versioning; one made before conversations had owners gets owner "" (no web client's)."""
    run_step(db, _TABLES)
    add_missing_columns(db, "conversations", [("owner", "TEXT NOT NULL DEFAULT ''")])


CONVERSATIONS_SCHEMA = Schema("conversations", (_TABLES,), adopt=_adopt)


class ConversationStore:
    """Turns of each conversation, in order, in `<data_dir>/conversations.sqlite`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_database(path, CONVERSATIONS_SCHEMA)

    def reopen(self) -> ConversationStore:
        """Another connection to the same file (for a thread of its own)."""
        return ConversationStore(self.path)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def new(self, now: str, owner: str = "") -> str:
        """Start a conversation belonging to `owner`; returns its id."""
        conversation = "c-" + secrets.token_urlsafe(16)
        self._db.execute("INSERT INTO conversations (id, created, owner) VALUES (?, ?, ?)", (conversation, now, owner))
        return conversation

    def questions(self, conversation: str, owner: str | None = None) -> list[str]:
        """Earlier questions, oldest first; NotFound for an unknown id, or one that `owner` (when given) did not
        make."""
        try:
            conversation.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no id has one
            shown = conversation.encode("utf-8", "backslashreplace").decode()
            raise NotFound(f"no conversation with id {shown!r}") from None
        row = self._db.execute("SELECT owner FROM conversations WHERE id = ?", (conversation,)).fetchone()
        if row is None or (owner is not None and not secrets.compare_digest(row[0], owner)):
            raise NotFound(f"no conversation with id {conversation!r}")
        rows = self._db.execute("SELECT question FROM turns WHERE conversation = ? ORDER BY n", (conversation,))
        return [r[0] for r in rows]

    def turns(self, conversation: str, owner: str | None = None) -> list[dict[str, Any]]:
        """Earlier turns with their answers' JSON; NotFound as for `questions`."""
        self.questions(conversation, owner)
        rows = self._db.execute(
            "SELECT question, answer, created FROM turns WHERE conversation = ? ORDER BY n", (conversation,)
        )
        return [{"question": q, "answer": json.loads(a), "created": c} for q, a, c in rows]

    def add(self, conversation: str, question: str, answer: dict[str, Any], now: str) -> None:
        """Append a turn."""
        with transaction(self._db) as db:
            row = db.execute("SELECT coalesce(max(n), 0) FROM turns WHERE conversation = ?", (conversation,))
            n = int(row.fetchone()[0]) + 1
            db.execute("INSERT INTO turns VALUES (?, ?, ?, ?, ?)", (conversation, n, question, json.dumps(answer), now))
