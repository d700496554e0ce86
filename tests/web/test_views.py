"""The view layer on its own: stored answers rebuilt exactly, review steps, safe links, withdrawn articles."""

from __future__ import annotations

from typing import Any

import pytest
from editorial_support import ask_api, reviewed
from fastapi.testclient import TestClient

from bedside.editorial.desk import SqlArticleService
from bedside.editorial.interface import ReviewStatus
from bedside.errors import InvalidInput
from bedside.web.app import link_label, web_link
from bedside.web.views import answer_from_dict, check_audience, review_steps


def test_answer_json_round_trips(client: TestClient, asked: dict[str, Any]) -> None:
    assert answer_from_dict(asked).to_dict() == asked


@pytest.mark.parametrize(
    ("status", "states"),
    [
        ("submitted", ["current", "todo", "todo"]),
        ("under_review", ["done", "current", "todo"]),
        ("changes_requested", ["done", "current", "todo"]),
        ("approved", ["done", "done", "done"]),
    ],
)
def test_review_steps(status: str, states: list[str]) -> None:
    steps = review_steps(status)
    assert [s.state for s in steps] == states
    assert steps[1].label == ("Changes requested" if status == "changes_requested" else "Under Review")


@pytest.mark.parametrize(
    ("url", "link", "label"),
    [
        (
            "https://doi.org/10.1164/rccm.201908-1581ST",
            "https://doi.org/10.1164/rccm.201908-1581ST",
            "doi:10.1164/rccm.201908-1581ST",
        ),
        ("https://pubmed.ncbi.nlm.nih.gov/123/", "https://pubmed.ncbi.nlm.nih.gov/123/", "PubMed 123"),
        ("http://www.nice.org.uk/guidance/ng136", "http://www.nice.org.uk/guidance/ng136", "nice.org.uk"),
        ("javascript:alert(1)", "", None),
        ("JaVaScRiPt:alert(1)", "", None),
        ("data:text/html,<script>alert(1)</script>", "", None),
        ("//evil.example/x", "", None),
        ("", "", None),
    ],
)
def test_only_web_links_become_links(url: str, link: str, label: str | None) -> None:
    assert web_link(url) == link
    if label is not None:
        assert link_label(url) == label


def test_unknown_audience_names_the_choices() -> None:
    with pytest.raises(InvalidInput, match="clinician, student, patient"):
        check_audience("vet")


def test_a_rejected_article_is_withdrawn(own_app: tuple[TestClient, SqlArticleService]) -> None:
    client, articles = own_app
    slug = ask_api(client, "How is hyponatraemia treated?")
    assert reviewed(articles, slug, "reject", "Not supported by its sources.").status is ReviewStatus.REJECTED
    r = client.get(f"/api/articles/{slug}")
    assert r.status_code == 404 and "withdrawn" in r.json()["detail"]
    assert client.get(f"/articles/{slug}").status_code == 404
    assert slug not in [a["slug"] for a in client.get("/api/articles").json()["articles"]]
