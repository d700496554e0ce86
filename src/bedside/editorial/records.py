"""Reading and writing article rows: the SQL behind the editorial service, and nothing else."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bedside.editorial.interface import Article, ArticleVersion, ReviewStatus
from bedside.errors import Conflict, InvalidInput, NotFound
from bedside.store.article_db import articles, versions

__all__ = [
    "ArticleRow",
    "authors_since",
    "dump_json",
    "insert_article",
    "insert_version",
    "latest_version",
    "load_articles",
    "lock_article",
    "update_article",
    "version",
]

ArticleRow = sa.Row[Any]


def dump_json(value: Any, what: str) -> str:
    """`value` as JSON text, or InvalidInput naming `what`."""
    try:
        text = json.dumps(value, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} holds text that is not valid Unicode (a lone surrogate)") from None
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from None
    return text


def lock_article(connection: Connection, slug: str) -> ArticleRow:
    """The article's row, locked for the rest of the transaction (row lock on PostgreSQL; SQLite: BEGIN IMMEDIATE)."""
    row = connection.execute(sa.select(articles).where(articles.c.slug == slug).with_for_update()).one_or_none()
    if row is None:
        raise NotFound(f"no article {slug!r}")
    return row


def update_article(connection: Connection, row: ArticleRow, **values: Any) -> None:
    """Compare-and-set: write `values` only if nobody changed the row since it was read."""
    query = (
        sa.update(articles)
        .where(articles.c.id == row.id, articles.c.row_version == row.row_version)
        .values(row_version=row.row_version + 1, **values)
    )
    if connection.execute(query).rowcount != 1:
        raise Conflict(f"article {row.slug!r} was changed by someone else meanwhile; reload it and try again")


def insert_article(connection: Connection, slug: str, question: str, search: str, now: str) -> int:
    """A new article in the submitted state; returns its id."""
    result = connection.execute(
        sa.insert(articles).values(
            slug=slug,
            question=question,
            search=search,
            status=ReviewStatus.SUBMITTED.value,
            claimed_by="",
            approved_by="",
            approved_at="",
            approved_version=0,
            sources_changed=False,
            created=now,
            updated=now,
            row_version=1,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def insert_version(connection: Connection, article_id: int, version: ArticleVersion) -> None:
    """Store one version exactly as given; the database refuses to change it afterwards."""
    connection.execute(
        sa.insert(versions).values(
            article_id=article_id,
            number=version.number,
            answer=dump_json(version.answer, "the answer"),
            sources=dump_json(version.sources, "the sources"),
            created=version.created,
            created_by=version.created_by,
            composer=version.composer,
            kb_snapshot=version.kb_snapshot,
            bedside_version=version.bedside_version,
        )
    )


def latest_version(connection: Connection, article_id: int) -> ArticleVersion:
    """The article's newest version."""
    query = sa.select(versions).where(versions.c.article_id == article_id).order_by(versions.c.number.desc()).limit(1)
    return _version(connection.execute(query).one())


def authors_since(connection: Connection, article_id: int, approved_version: int) -> frozenset[str]:
    """Who made the article's versions newer than `approved_version` (every version when none is approved)."""
    query = sa.select(versions.c.created_by).where(
        versions.c.article_id == article_id, versions.c.number > approved_version
    )
    return frozenset(connection.execute(query).scalars())


def version(connection: Connection, article_id: int, number: int) -> ArticleVersion:
    """One version of the article."""
    query = sa.select(versions).where(versions.c.article_id == article_id, versions.c.number == number)
    return _version(connection.execute(query).one())


def load_articles(
    connection: Connection, where: Sequence[sa.ColumnElement[bool]] = (), limit: int | None = None
) -> list[Article]:
    """Articles matching every condition in `where`, most recently updated first, with all their versions."""
    query = sa.select(articles).where(*where).order_by(articles.c.updated.desc(), articles.c.id.desc())
    rows = connection.execute(query.limit(limit) if limit is not None else query).all()
    found: dict[int, list[ArticleVersion]] = {row.id: [] for row in rows}
    for chunk in _chunks(list(found), 500):
        query = sa.select(versions).where(versions.c.article_id.in_(chunk)).order_by(versions.c.number)
        for vrow in connection.execute(query):
            found[vrow.article_id].append(_version(vrow))
    return [_article(row, found[row.id]) for row in rows]


def _chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _article(row: ArticleRow, history: list[ArticleVersion]) -> Article:
    return Article(
        slug=row.slug,
        question=row.question,
        status=ReviewStatus(row.status),
        versions=tuple(history),
        created=row.created,
        updated=row.updated,
        claimed_by=row.claimed_by,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        approved_version=row.approved_version,
        sources_changed=row.sources_changed,
        sources_changes=tuple(json.loads(row.sources_changes or "[]")),
    )


def _version(row: ArticleRow) -> ArticleVersion:
    return ArticleVersion(
        number=row.number,
        answer=json.loads(row.answer),
        created=row.created,
        created_by=row.created_by,
        composer=row.composer,
        kb_snapshot=row.kb_snapshot,
        bedside_version=row.bedside_version,
        sources=json.loads(row.sources),
    )
