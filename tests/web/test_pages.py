"""The pages, by their template context (logic) and a little of their HTML (what must be there)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from editorial_support import ask_api, ask_form, reviewed
from fastapi.testclient import TestClient

from bedside.editorial.desk import SqlArticleService
from bedside.web.views import ArticleView


def _article(client: TestClient, slug: str, **params: str) -> tuple[ArticleView, Any]:
    r = client.get(f"/articles/{slug}", params=params)
    assert r.status_code == 200, r.text
    assert r.template.name == "article.html"  # type: ignore[attr-defined]
    view: ArticleView = r.context["article"]  # type: ignore[attr-defined]
    return view, r


def test_home_offers_the_question_box_examples_and_articles(client: TestClient, asked: dict[str, Any]) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.template.name == "home.html"  # type: ignore[attr-defined]
    ctx = r.context  # type: ignore[attr-defined]
    assert len(ctx["examples"]) == 6 and all(q.endswith("?") for q in ctx["examples"])
    assert ctx["approved"] == [] and "recent" not in ctx and asked["slug"] not in r.text  # unreviewed: not listed
    assert '<label class="field-label" for="question">' in r.text and 'name="question"' in r.text
    assert "data-stream" not in r.text  # no LLM configured: a plain form post


def test_home_lists_recently_approved_articles(own_app: tuple[TestClient, SqlArticleService], question: str) -> None:
    client, articles = own_app
    slug = ask_api(client, question)
    assert client.get("/").context["approved"] == []  # type: ignore[attr-defined]
    reviewed(articles, slug, "approve")
    ctx = client.get("/").context  # type: ignore[attr-defined]
    assert [a.slug for a in ctx["approved"]] == [slug]


def test_ask_form_redirects_to_the_article_keeping_the_conversation(client: TestClient, question: str) -> None:
    r = ask_form(client, {"question": question, "audience": "clinician"})
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/articles/what-is-the-first-line-treatment") and "?c=c-" in location
    conversation = location.split("?c=")[1]
    follow = ask_form(client, {"question": "What about in pregnancy?", "conversation": conversation})
    assert follow.status_code == 303 and follow.headers["location"].endswith(f"?c={conversation}")
    view, page = _article(client, follow.headers["location"].split("?")[0].rsplit("/", 1)[1], c=conversation)
    trail = page.context["trail"]  # type: ignore[attr-defined]
    assert [t.question for t in trail] == [question]
    assert trail[0].url == f"{location.split('?')[0]}?c={conversation}"  # a link back to the earlier article
    assert view.title == "First-Line Treatment of Community-acquired Pneumonia in Pregnancy"  # stands on its own
    assert view.question == "What is the first-line treatment for community-acquired pneumonia in pregnancy?"
    mine = client.get(location).context["trail"]  # type: ignore[attr-defined]
    assert mine == []  # the page's own question is never listed as earlier
    assert view.conversation == conversation
    assert f'name="conversation" value="{conversation}"' in page.text


def test_ask_form_with_bad_input_shows_the_problem_on_the_page(client: TestClient) -> None:
    r = ask_form(client, {"question": "x" * 5000})
    assert r.status_code == 422 and r.template.name == "home.html"  # type: ignore[attr-defined]
    assert "too long" in r.context["error"] and 'role="alert"' in r.text  # type: ignore[attr-defined]
    r = ask_form(client, {"question": "How is gout treated?", "audience": "vet"})
    assert r.status_code == 422 and "unknown audience" in r.context["error"]  # type: ignore[attr-defined]
    r = ask_form(client, {"question": "How is gout treated?", "conversation": "c-missing"})
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


def test_article_page_context(client: TestClient, asked: dict[str, Any]) -> None:
    view, r = _article(client, asked["slug"])
    assert view.title == asked["title"] and view.status == "submitted" and view.pending
    assert [(s.label, s.state) for s in view.steps] == [
        ("Submitted", "current"),
        ("Under Review", "todo"),
        ("Approved", "todo"),
    ]
    assert "Educational purpose only — content pending human review" in r.text
    assert view.updated == asked["updated"] and 'href="/policy"' in r.text
    assert [s.text for s in view.bottom_line] == [s["text"] for s in asked["bottom_line"]]
    assert [sec.heading for sec in view.sections] == [sec["heading"] for sec in asked["sections"]]
    assert [ref.number for ref in view.references] == [ref["number"] for ref in asked["references"]]
    assert view.disclaimer.startswith("For healthcare professionals")
    assert "Which best describes you?" in r.text and "Continue the conversation" in r.text
    assert 'id="ref-1"' in r.text and 'href="#ref-1"' in r.text


def test_citations_carry_the_exact_source_passage(client: TestClient, asked: dict[str, Any]) -> None:
    view, r = _article(client, asked["slug"])
    bedside = client.app.state.service.bedside  # type: ignore[attr-defined]
    statement = asked["bottom_line"][0]
    cite = view.bottom_line[0].citations[0]
    ref = next(x for x in asked["references"] if x["number"] == cite.number)
    spans = [p for p in statement["provenance"] if p["document_id"] == ref["document_id"]]
    text = bedside.store.document(ref["document_id"]).text
    assert cite.quote == " … ".join(text[p["start"] : p["end"]].strip() for p in spans)
    assert cite.quote and statement["text"][:30] in cite.quote
    assert 'role="tooltip"' in r.text


def test_reader_selector_rerenders_and_remembers(client: TestClient, asked: dict[str, Any]) -> None:
    clinician, _ = _article(client, asked["slug"], audience="clinician")
    patient, r = _article(client, asked["slug"], audience="patient")
    assert r.cookies.get("bedside_audience") == "patient"
    assert patient.audience == "patient" and patient.disclaimer != clinician.disclaimer

    def numbers(v: ArticleView) -> list[tuple[int, ...]]:
        return sorted(
            tuple(c.number for c in s.citations)
            for s in v.bottom_line + tuple(x for sec in v.sections for x in sec.statements)
        )

    assert numbers(patient) and not Counter(numbers(patient)) - Counter(numbers(clinician))  # a plainer selection
    remembered, _ = _article(client, asked["slug"])  # the cookie now chooses
    assert remembered.audience == "patient"
    client.cookies.clear()
    assert _article(client, asked["slug"])[0].audience == "clinician"
    bad = client.get(f"/articles/{asked['slug']}", params={"audience": "vet"})
    assert bad.status_code == 422 and "unknown audience" in bad.text and "text/html" in bad.headers["content-type"]


def test_approved_article_has_no_pending_banner(own_app: tuple[TestClient, SqlArticleService], question: str) -> None:
    client, articles = own_app
    slug = ask_api(client, question)
    assert _article(client, slug)[0].pending
    reviewed(articles, slug, "approve")
    view, r = _article(client, slug)
    assert not view.pending and all(s.state == "done" for s in view.steps)
    assert "pending human review" not in r.text


def test_unknown_article_is_a_404_page(client: TestClient) -> None:
    r = client.get("/articles/no-such-thing")
    assert r.status_code == 404 and r.template.name == "error.html"  # type: ignore[attr-defined]
    assert "no-such-thing" in r.text


def test_policy_sources_and_search_pages(client: TestClient, own_app: tuple[TestClient, SqlArticleService]) -> None:
    policy = client.get("/policy")
    assert policy.status_code == 200
    for words in ("Submitted", "Under Review", "Approved", "Guidelines first", "Newer first", "Extractive by default"):
        assert words in policy.text
    sources = client.get("/sources")
    stats = sources.context["stats"]  # type: ignore[attr-defined]
    assert stats["by_type"][0]["label"] == "Guideline" and f"{stats['documents']:,} documents" in sources.text
    own, articles = own_app
    slug = ask_api(own, "What is the first-line treatment for community-acquired pneumonia?")
    found = own.get("/search", params={"q": "pneumonia"}).context["results"]  # type: ignore[attr-defined]
    assert found == []  # not reviewed yet: not listed
    reviewed(articles, slug, "approve")
    found = own.get("/search", params={"q": "pneumonia"}).context["results"]  # type: ignore[attr-defined]
    assert slug in [a.slug for a in found]
    assert own.get("/search", params={"q": "zebra"}).context["results"] == []  # type: ignore[attr-defined]
    assert client.get("/search", params={"status": "nonsense"}).status_code == 422


def test_docs_are_a_page_of_the_site_built_from_the_openapi_document(client: TestClient) -> None:
    r = client.get("/docs")
    assert r.status_code == 200 and r.template.name == "docs.html"  # type: ignore[attr-defined]
    spec = client.get("/openapi.json").json()
    shown = {(op.method, op.path) for op in r.context["operations"]}  # type: ignore[attr-defined]
    assert shown == {(m.upper(), path) for path, item in spec["paths"].items() for m in item}
    ask = next(op for op in r.context["operations"] if op.path == "/api/ask")  # type: ignore[attr-defined]
    assert ask.body == "AskIn" and [f.name for f in ask.body_fields if f.required] == ["question"]
    operations = r.context["operations"]  # type: ignore[attr-defined]
    review = next(op for op in operations if op.path.endswith("/review") and op.method == "POST")
    assert review.needs_token and {"override", "version"} <= {f.name for f in review.body_fields}
    assert "<script" not in r.text.split("<main")[1] and "/static/css/bedside.css" in r.text
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 404  # no third-party bundle any more
