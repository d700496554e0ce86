"""Alembic migrations of the article database; `bedside.store.articles.migrate` runs them to head."""
