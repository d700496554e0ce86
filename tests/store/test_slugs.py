"""Article keys cannot be collided: the slug carries the question's full SHA-256, and `article_for` compares the
stored question, so nobody can plant the article that a later asker of a chosen question receives."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from test_articles import AUDIT_KEY, FAST_HASHER, SOURCES, answer

from bedside.editorial.desk import SqlArticleService
from bedside.errors import Conflict
from bedside.store.article_db import open_engine
from bedside.text.slugs import legacy_slug_for, normalise_question, slug_for

VICTIM = "What is the maximum daily dose of paracetamol in adults?"
PLANTER = "Is paracetamol safe every hour?"


@pytest.fixture
def service(tmp_path: Path) -> SqlArticleService:
    return SqlArticleService(f"sqlite:///{tmp_path / 'bedside.db'}", hasher=FAST_HASHER, audit_key=AUDIT_KEY)


def _move(service: SqlArticleService, slug: str, to: str) -> None:
    """Give an article another slug, as a slug collision would."""
    engine = open_engine(service._engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE articles SET slug = ? WHERE slug = ?", (to, slug))
    finally:
        engine.dispose()


def test_the_slug_carries_the_full_digest() -> None:
    digest = hashlib.sha256(normalise_question(VICTIM).encode()).hexdigest()
    assert slug_for(VICTIM).endswith("-" + digest) and len(slug_for("x" * 500)) <= 200
    assert re.fullmatch(r"what-is-the-maximum-daily-dose-of-paracetamol-in-adults-[0-9a-f]{64}", slug_for(VICTIM))
    assert legacy_slug_for(VICTIM) == slug_for(VICTIM)[: -64 + 6]


def test_a_planted_article_under_the_askers_key_is_never_served(service: SqlArticleService) -> None:
    planted = service.article_for(PLANTER, lambda: answer(text="Give 1 g every hour."), SOURCES)
    _move(service, planted.slug, slug_for(VICTIM))  # as if the planter's question had collided with the victim's
    composed: list[int] = []
    with pytest.raises(Conflict, match="taken by another question"):
        service.article_for(VICTIM, lambda: composed.append(1) or answer(), SOURCES)
    assert composed == []


def test_older_short_keys_still_find_their_own_question_only(service: SqlArticleService) -> None:
    mine = service.article_for(VICTIM, lambda: answer(), SOURCES)
    _move(service, mine.slug, legacy_slug_for(VICTIM))  # an article made before keys were full length
    again = service.article_for(f"  {VICTIM.upper()} ", lambda: pytest.fail("composed again"), SOURCES)
    assert again.slug == legacy_slug_for(VICTIM) and len(again.versions) == 1
    planted = service.article_for(PLANTER, lambda: answer(text="Give 1 g every hour."), SOURCES)
    other = "How is iron deficiency treated?"
    _move(service, planted.slug, legacy_slug_for(other))  # a six-character collision found by search
    fresh = service.article_for(other, lambda: answer(text="Oral iron."), SOURCES)
    assert fresh.slug == slug_for(other) and same_text(fresh) == "Oral iron."


def same_text(article: object) -> str:
    return str(article.latest.answer["bottom_line"][0]["text"])  # type: ignore[attr-defined]
