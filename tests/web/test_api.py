"""The JSON API against the starter knowledge base: answers, articles, sources, health, and errors as 4xx JSON."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from editorial_support import ask_api, reviewed
from fastapi.testclient import TestClient

from bedside.editorial.desk import SqlArticleService
from bedside.text.slugs import normalise_question, slug_for

QUESTION = "What is the first-line treatment for community-acquired pneumonia?"


def test_ask_returns_the_answer_json_with_the_article_slug(asked: dict[str, Any]) -> None:
    assert asked["slug"] == slug_for(QUESTION)
    assert asked["status"] == "submitted" and asked["audience"] == "clinician"
    assert asked["conversation"].startswith("c-")
    assert asked["bottom_line"] and asked["references"]
    for key in ("question", "title", "updated", "insufficient_evidence", "sections", "disclaimer", "meta"):
        assert key in asked
    cited = {n for s in asked["bottom_line"] for n in s["citations"]}
    assert cited <= {r["number"] for r in asked["references"]}
    assert asked["bottom_line"][0]["provenance"][0]["end"] > asked["bottom_line"][0]["provenance"][0]["start"]


def test_the_same_question_twice_opens_the_same_article(client: TestClient, asked: dict[str, Any]) -> None:
    again = client.post(
        "/api/ask", json={"question": "  what is the FIRST-LINE treatment for community-acquired pneumonia "}
    )
    assert again.status_code == 200
    body = again.json()
    assert normalise_question(body["question"]) == normalise_question(QUESTION)
    assert body["slug"] == asked["slug"]
    assert body["bottom_line"] == asked["bottom_line"] and body["references"] == asked["references"]
    assert body["conversation"] != asked["conversation"]  # a new conversation, the same article


def test_ask_for_a_patient_keeps_numbers_and_citations(client: TestClient, asked: dict[str, Any]) -> None:
    r = client.post("/api/ask", json={"question": QUESTION, "audience": "patient"})
    body = r.json()
    assert r.status_code == 200 and body["audience"] == "patient" and body["slug"] == asked["slug"]
    assert body["references"] == asked["references"]
    assert body["disclaimer"] != asked["disclaimer"]

    def cites(answer: dict[str, Any]) -> list[list[int]]:
        return sorted(
            s["citations"] for s in answer["bottom_line"] + [x for sec in answer["sections"] for x in sec["statements"]]
        )

    assert cites(body) and not Counter(map(tuple, cites(body))) - Counter(map(tuple, cites(asked)))


def test_follow_up_continues_the_conversation_as_a_different_article(client: TestClient, asked: dict[str, Any]) -> None:
    r = client.post("/api/ask", json={"question": "What about in pregnancy?", "conversation": asked["conversation"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["conversation"] == asked["conversation"]
    assert body["slug"] != asked["slug"]
    other = client.post("/api/ask", json={"question": "How is iron deficiency anaemia treated?"}).json()
    again = client.post(
        "/api/ask", json={"question": "What about in pregnancy?", "conversation": other["conversation"]}
    )
    assert again.json()["slug"] not in (body["slug"], other["slug"])  # keyed by the resolved question


def test_follow_up_from_an_article_without_a_conversation(client: TestClient, asked: dict[str, Any]) -> None:
    r = client.post("/api/ask", json={"question": "What about in children?", "follows": asked["slug"]})
    assert r.status_code == 200, r.text
    fresh = client.post("/api/ask", json={"question": QUESTION}).json()["conversation"]
    same = client.post("/api/ask", json={"question": "What about in children?", "conversation": fresh})
    assert r.json()["slug"] == same.json()["slug"] != asked["slug"]


def test_get_article_renders_for_each_audience(client: TestClient, asked: dict[str, Any]) -> None:
    r = client.get(f"/api/articles/{asked['slug']}")
    assert r.status_code == 200
    body = r.json()
    assert body["slug"] == asked["slug"] and body["status"] == "submitted" and body["version"] == 1
    assert body["answer"]["bottom_line"] == asked["bottom_line"]
    student = client.get(f"/api/articles/{asked['slug']}", params={"audience": "student"}).json()
    assert student["answer"]["audience"] == "student"
    assert [r["number"] for r in student["answer"]["references"]] == [r["number"] for r in asked["references"]]


def test_list_articles_by_status_and_words(own_app: tuple[TestClient, SqlArticleService]) -> None:
    client, articles = own_app
    slug = ask_api(client, QUESTION)
    assert client.get("/api/articles").json()["articles"] == []  # unreviewed articles are never listed
    assert client.get("/api/articles", params={"status": "submitted"}).json()["articles"] == []
    assert client.get(f"/api/articles/{slug}").status_code == 200  # but the asker can still open it
    reviewed(articles, slug, "approve")
    listed = client.get("/api/articles").json()["articles"]
    assert slug in [a["slug"] for a in listed]
    found = client.get("/api/articles", params={"q": "pneumonia"}).json()["articles"]
    assert slug in [a["slug"] for a in found] and all("pneumonia" in a["question"] for a in found)
    assert client.get("/api/articles", params={"q": "zebra"}).json()["articles"] == []
    approved = client.get("/api/articles", params={"status": "approved"}).json()["articles"]
    assert [a["slug"] for a in approved] == [slug]
    assert client.get(f"/api/articles/{slug}").json()["answer"]["status"] == "approved"


def test_sources_counts_by_type(client: TestClient) -> None:
    body = client.get("/api/sources").json()
    assert body["documents"] > 40 and body["passages"] > body["documents"]
    assert body["by_type"][0] == {
        "type": "guideline",
        "label": "Guideline",
        "documents": body["by_type"][0]["documents"],
    }
    assert sum(t["documents"] for t in body["by_type"]) == body["documents"]


def test_health(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["llm"] is False


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"question": ""}, 422, "question"),
        ({"question": "   "}, 422, "question is empty"),
        ({"question": "x" * 5000}, 422, "5000 characters"),
        ({"question": "How is gout treated?", "audience": "vet"}, 422, "audience"),
        ({"question": "How is gout treated?", "conversation": "c-nope"}, 404, "c-nope"),
        ({"question": "How is gout treated?", "follows": "no-such-article"}, 404, "no-such-article"),
        ({"question": 42}, 422, "question"),
        ({"nothing": True}, 422, "question"),
    ],
)
def test_bad_ask_is_a_4xx_json_error_saying_what_is_wrong(
    client: TestClient, body: dict[str, Any], status: int, words: str
) -> None:
    for path in ("/api/ask", "/api/ask/stream"):
        r = client.post(path, json=body)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert words in r.json()["detail"] and r.json()["error"] in ("invalid_input", "not_found")


def test_malformed_json_and_unknown_things_are_4xx(client: TestClient) -> None:
    r = client.post("/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_input"
    r = client.get("/api/articles/no-such-article")
    assert r.status_code == 404 and r.json() == {"error": "not_found", "detail": "no article 'no-such-article'"}
    assert client.get("/api/articles", params={"status": "lost"}).status_code == 422
    assert client.get("/api/articles/x", params={"audience": "vet"}).status_code == 422
    assert client.get("/api/nothing-here").json()["error"] == "not_found"
    assert client.get("/api/health", headers={"accept": "text/html"}).status_code == 200
    assert client.put("/api/ask").status_code == 405


def test_openapi_documents_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/api/ask", "/api/ask/stream", "/api/articles/{slug}", "/api/articles", "/api/sources", "/api/health"):
        assert path in spec["paths"]
    assert "/articles/{slug}" not in spec["paths"]  # pages are not part of the API
    assert spec["components"]["schemas"]["AskIn"]["properties"]["question"]["maxLength"] == 2000
