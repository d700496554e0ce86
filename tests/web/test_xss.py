"""Rendering safety without a browser: the generated payload corpus (xss_payloads.py), planted in the knowledge base,
in questions, in an editor's edits and in LLM output, comes back as text on every page and as data in the JSON API.

Each page is parsed (xss_support.audit_html): no element, event handler, style or URL that content could smuggle
in may appear, and every planted payload must be found verbatim in the text a reader sees. The browser layer is
test_xss_browser.py.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from editorial_support import Editorial, ask_api, ask_form, csrf_of, make_editorial, person
from fastapi.testclient import TestClient
from xss_payloads import corpus, hostile_urls
from xss_support import (
    QUESTIONS,
    HostileLlm,
    audit_html,
    build_hostile_kb,
    hostile_records,
    missing,
    normal,
    pack,
)

from bedside.config import load_settings
from bedside.ingest.sanitize import clean_field
from bedside.web import create_app

CORPUS = corpus()
MAX_QUESTION = 2000


def page(client: TestClient, path: str) -> str:
    """The page's shown text, after asserting it rendered and nothing hostile got into its markup."""
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    problems, shown = audit_html(r.text)
    assert problems == [], (path, problems[:5])
    return shown


@pytest.fixture(scope="module")
def hostile_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hostile_kb(tmp_path_factory.mktemp("xss"))


@pytest.fixture(scope="module")
def desk(hostile_data: Path) -> Iterator[tuple[Editorial, TestClient]]:
    """The editorial app over the hostile knowledge base, and a client holding its lifespan."""
    e = make_editorial(hostile_data, starter_kb=False)
    with TestClient(e.app, follow_redirects=False) as client:
        yield e, client
    e.articles.close()


@pytest.fixture(scope="module")
def kb_answers(desk: tuple[Editorial, TestClient]) -> list[tuple[dict[str, Any], str]]:
    """(answer JSON, article page HTML) for each question on the hostile topic."""
    _, client = desk
    out = []
    for q in QUESTIONS:
        body = client.post("/api/ask", json={"question": q}).json()
        # an answer that abstains is no article: its asker reads it at /answer, hostile text and all
        page = f"/articles/{body['slug']}" if body["slug"] else f"/answer?c={body['conversation']}"
        out.append((body, client.get(page).text))
    return out


def strings_of(answer: dict[str, Any]) -> list[str]:
    """Every text an answer shows: title, headings, statements, reference titles and sources."""
    statements = [*answer["bottom_line"], *(s for sec in answer["sections"] for s in sec["statements"])]
    refs = answer["references"]
    headings = [sec["heading"] for sec in answer["sections"]]
    return [
        answer["title"],
        *headings,
        *(s["text"] for s in statements),
        *(r["title"] for r in refs),
        *(r["source"] for r in refs),
    ]


def test_knowledge_base_payloads_show_as_text_on_article_pages(kb_answers: list[tuple[dict[str, Any], str]]) -> None:
    seen: set[int] = set()
    for answer, html in kb_answers:
        problems, shown = audit_html(html)
        assert problems == [], (answer["question"], problems[:5])
        texts = normal(" ".join(strings_of(answer)))
        planted = [p for p in CORPUS if normal(p.text) in texts]
        assert missing([p.text for p in planted], shown) == []
        seen |= {p.n for p in planted}
    # The carrier sentences differ only by their payload, so the composer merges each fact's carriers into one bullet
    # citing them all (their titles and sources still shown in the references): 45 distinct payloads is the floor.
    assert len(seen) >= 45, f"only {len(seen)} payloads reached an answer: the test would prove little"


def test_knowledge_base_fields_round_trip_as_data(kb_answers: list[tuple[dict[str, Any], str]]) -> None:
    records = {r["id"]: r for r in hostile_records(CORPUS)}
    cited = 0
    for answer, _ in kb_answers:
        for ref in answer["references"]:
            record = records[ref["document_id"]]  # as stored: ingestion removes control characters (sanitize)
            stored = tuple(clean_field(name, record[name]) for name in ("title", "source", "url"))
            assert (ref["title"], ref["source"], ref["url"]) == stored
            cited += 1
    assert cited >= 20


def test_reference_urls_become_links_only_when_they_are_web_addresses(
    kb_answers: list[tuple[dict[str, Any], str]],
) -> None:
    hostile = {clean_field("url", url) for url in hostile_urls()}
    shown_as_text = 0
    for answer, html in kb_answers:
        for ref in answer["references"]:
            if ref["url"] in hostile and not ref["url"].startswith("http://"):
                assert f'href="{ref["url"]}' not in html and f"href='{ref['url']}" not in html
                shown_as_text += 1
    assert shown_as_text >= 5  # enough hostile schemes were cited to mean something; audit_html checks every href


def test_every_publisher_on_the_sources_page_is_text(desk: tuple[Editorial, TestClient]) -> None:
    listed = list(desk[1].get("/api/sources").json()["by_source"])
    assert len(listed) >= 20 and all(name.startswith("Society ") for name in listed)
    assert missing(listed, page(desk[1], "/sources")) == []


def test_questions_and_follow_ups_show_as_text(desk: tuple[Editorial, TestClient]) -> None:
    e, client = desk
    questions = pack(CORPUS, QUESTIONS[0], MAX_QUESTION)
    conversation, slugs = "", []
    for q in questions:
        r = ask_form(client, {"question": q, "conversation": conversation})
        assert r.status_code == 303, r.text[:300]
        slug, conversation = r.headers["location"].removeprefix("/articles/").split("?c=")
        slugs.append(slug)
        assert normal(client.get(f"/api/articles/{slug}").json()["question"]) == normal(q)
    last = page(client, f"/articles/{slugs[-1]}?c={conversation}")  # the trail lists every earlier question
    assert missing(questions[:-1], last) == []
    reviewer = person(e, "reviewer")
    for slug, q in zip(slugs, questions, strict=True):
        assert missing([q], page(reviewer, f"/review/{slug}")) == []
    page(reviewer, "/review")
    page(client, "/search")


def test_search_terms_show_as_text(desk: tuple[Editorial, TestClient]) -> None:
    client = desk[1]
    for q in pack(CORPUS, "gout", 500):
        assert missing([q], page(client, "/search?q=" + quote(q, safe=""))) == []


def test_a_rejected_question_is_shown_back_as_text(desk: tuple[Editorial, TestClient]) -> None:
    q = " ".join(p.text for p in CORPUS)[: MAX_QUESTION * 2]  # too long: the form comes back with an error
    r = ask_form(desk[1], {"question": q})
    assert r.status_code == 422
    problems, shown = audit_html(r.text)
    assert problems == [] and missing([q[:MAX_QUESTION]], shown) == []


def test_editor_payloads_show_as_text_on_review_edit_and_public_pages(desk: tuple[Editorial, TestClient]) -> None:
    e, client = desk
    slug = ask_api(client, QUESTIONS[0])
    reviewer, editor = person(e, "reviewer"), person(e, "editor")
    comment = " ".join(p.text for p in CORPUS)[:9000]
    for action, extra in (("claim", {}), ("request_changes", {"comment": comment})):
        token = csrf_of(reviewer.get(f"/review/{slug}").text)
        r = reviewer.post(f"/review/{slug}/action", data={"csrf": token, "action": action, "version": "1", **extra})
        assert r.status_code == 303, r.text[:300]
    fields, texts = edit_fields(editor, slug)
    assert all(any(p.text in t for t in texts) for p in CORPUS)  # the whole corpus goes into the edit
    r = editor.post(f"/review/{slug}/edit", data={**fields, "cite:bl": []})  # refused: the new one cites nothing
    assert r.status_code == 422
    problems, shown = audit_html(r.text)
    assert problems == [] and missing([*texts, fields["title"]], shown) == []  # the form comes back as typed
    r = editor.post(f"/review/{slug}/edit", data=fields)
    assert r.status_code == 303, r.text[:300]
    saved = client.get(f"/api/articles/{slug}").json()["answer"]
    statements = [*saved["bottom_line"], *(s for sec in saved["sections"] for s in sec["statements"])]
    assert sorted(s["text"] for s in statements) == sorted(t.strip() for t in texts)  # plain text, as typed
    assert saved["title"] == fields["title"]
    for who, where in ((reviewer, f"/review/{slug}"), (reviewer, "/review"), (client, f"/articles/{slug}")):
        shown = page(who, where)
        assert missing([fields["title"]] if where == "/review" else [*texts, fields["title"]], shown) == [], where
    assert missing([comment], page(reviewer, f"/review/{slug}")) == []


def edit_fields(editor: TestClient, slug: str) -> tuple[dict[str, Any], list[str]]:
    """The edit form filled with the whole corpus: the title, every statement and a new bottom-line statement."""
    html = editor.get(f"/review/{slug}/edit").text
    names = [n for n in re.findall(r'<textarea id="[^"]+" name="([^"]+)"', html) if n.startswith("text:")]
    texts = pack(CORPUS, "Colchicine treats an acute gout flare.", 4_900)
    texts = (texts * (1 + len(names) // len(texts)))[: max(len(names), len(texts))]
    fields: dict[str, Any] = {"csrf": csrf_of(html), "base": "1", "title": " ".join(p.text for p in CORPUS[:8])}
    fields |= dict(zip(names, texts, strict=False))
    extra = texts[len(names) :]
    fields |= {"new:bl": " ".join(extra)[:4_900] or texts[0], "cite:bl": "1"}
    return fields, [fields[n] for n in names] + [fields["new:bl"]]


@pytest.fixture(scope="module")
def llm_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app over a fresh hostile knowledge base (no stored articles) whose LLM endpoint answers hostile drafts."""
    data = build_hostile_kb(tmp_path_factory.mktemp("xss-llm"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileLlm)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    settings = load_settings(data_dir=data, embedder="hashing", starter_kb=False, llm_base_url=url, llm_model="evil")
    with TestClient(create_app(settings), follow_redirects=False) as client:
        yield client
    server.shutdown()
    server.server_close()


def test_llm_payloads_show_as_text_and_stream_as_data(llm_client: TestClient) -> None:
    answer = llm_client.post("/api/ask", json={"question": QUESTIONS[0]}).json()
    assert "<script>window.__pwned=1</script>" in answer["title"]  # the hostile endpoint's own title, kept as text
    texts = strings_of(answer)
    planted = [p.text for p in CORPUS if normal(p.text) in normal(" ".join(texts))]
    assert len(planted) >= 10
    shown = page(llm_client, f"/articles/{answer['slug']}")
    assert missing(texts, shown) == []
    r = llm_client.post("/api/ask/stream", json={"question": QUESTIONS[1]})
    assert r.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[5:]) for line in r.text.splitlines() if line.startswith("data:")]
    streamed = normal(" ".join(ev["text"] for ev in events if set(ev) == {"text"}))
    # Raw text in JSON, for bedside.js to set as textContent.
    assert len([p for p in CORPUS if normal(p.text) in streamed]) >= 5
