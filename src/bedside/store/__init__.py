"""Databases: the knowledge store (documents and passages) and, later, the article store."""

from bedside.store.kb import KnowledgeStore, StoredDocument

__all__ = ["KnowledgeStore", "StoredDocument"]
