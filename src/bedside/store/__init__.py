"""Databases: the knowledge store (documents, passages, change log; SQLite or PostgreSQL) and the article store."""

from bedside.store.kb import SqliteKnowledgeStore
from bedside.store.knowledge_store import KnowledgeStore, open_knowledge_store

__all__ = ["KnowledgeStore", "SqliteKnowledgeStore", "open_knowledge_store"]
