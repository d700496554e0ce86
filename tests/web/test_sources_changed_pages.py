"""The "sources changed" flag, with what changed, on the public article page and at the top of the review queue."""

from __future__ import annotations

from pathlib import Path

from editorial_support import make_editorial, sign_in
from fastapi.testclient import TestClient

from bedside import Bedside
from bedside.config import load_settings
from bedside.web import create_app

GOUT = """---
title: Management of example gout flares
type: guideline
issuer: Example Rheumatology Society
year: 2023
---

# Treatment

- For an example gout flare, give colchicine {dose} two to four times daily.
"""
QUESTION = "What is the treatment for an example gout flare?"


def test_the_flag_shows_on_the_article_page_and_in_the_review_queue(tmp_path: Path) -> None:
    data = tmp_path / "data"
    source = tmp_path / "gout.md"
    source.write_text(GOUT.format(dose="500 micrograms"), encoding="utf-8")
    settings = load_settings(data_dir=data, starter_kb=False, embedder="hashing")
    editorial = make_editorial(data, starter_kb=False)
    with Bedside(settings=settings) as b:
        assert b.ingest([source]).ok
        answer, sources = b.compose_article(QUESTION)
        slug = editorial.articles.article_for(QUESTION, lambda: answer, sources).slug
        source.write_text(GOUT.format(dose="1 mg"), encoding="utf-8")
        assert b.ingest([source]).updated == 1
        assert editorial.articles.check_sources(b.source_states) == [slug]
    change = "“Management of example gout flares” (gout) changed: re-ingested with different content"
    with TestClient(editorial.app, follow_redirects=False) as client:
        page = client.get(f"/articles/{slug}")
        assert page.status_code == 200
        assert page.context["article"].sources_changes == (change,)  # type: ignore[attr-defined]
        assert 'id="sources-changed"' in page.text and change in page.text
        assert sign_in(client, editorial.email("editor")).status_code == 303
        queue = client.get("/review")
        assert queue.status_code == 200, queue.text
        groups = queue.context["groups"]  # type: ignore[attr-defined]
        assert groups[0].status == "sources_changed" and [i.slug for i in groups[0].items] == [slug]
        assert groups[0].items[0].sources_changes == (change,) and change in queue.text
        review = client.get(f"/review/{slug}")
        assert review.status_code == 200 and change in review.text


def test_the_server_checks_sources_when_it_starts(tmp_path: Path) -> None:
    """A change made while the server was down (here through the Python API) is flagged when it starts."""
    data = tmp_path / "data"
    source = tmp_path / "gout.md"
    source.write_text(GOUT.format(dose="500 micrograms"), encoding="utf-8")
    settings = load_settings(data_dir=data, starter_kb=False, embedder="hashing")
    editorial = make_editorial(data, starter_kb=False)
    with Bedside(settings=settings) as b:
        assert b.ingest([source]).ok
        answer, sources = b.compose_article(QUESTION)
        slug = editorial.articles.article_for(QUESTION, lambda: answer, sources).slug
        b.remove("gout")
    assert not editorial.articles.get(slug).sources_changed
    with TestClient(
        create_app(load_settings(data_dir=data, starter_kb=False, embedder="hashing"), articles=editorial.articles)
    ):
        pass
    assert editorial.articles.get(slug).sources_changes == (  # a fresh app over the same data checked on start
        "“Management of example gout flares” (gout) removed from the knowledge base",
    )
