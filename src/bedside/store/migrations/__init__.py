"""Alembic migrations of the article database; `bedside.store.article_db.migrate` runs them to head."""
