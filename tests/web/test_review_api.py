"""The review API with bearer tokens against the real SQL article service: 401, 403, 404, 409, 422 and 200."""

from __future__ import annotations

import threading
from typing import Any

from editorial_support import Editorial, ask_api
from fastapi.testclient import TestClient

QUESTIONS = (
    "What is the first-line treatment for acute ischaemic stroke?",
    "How is atrial fibrillation diagnosed?",
    "What is the first-line treatment for diabetic ketoacidosis?",
    "How is pulmonary embolism diagnosed?",
    "What is the first-line treatment for iron deficiency anaemia?",
)


def act(
    client: TestClient,
    e: Editorial,
    who: str,
    slug: str,
    action: str,
    comment: str | None = None,
    version: int | None = None,
) -> Any:
    """A review action on `version` (default: the latest, as a reviewer who just loaded it would send)."""
    if version is None:
        found = client.get(f"/api/articles/{slug}/review", headers=e.bearer(who))
        version = found.json()["version"] if found.status_code == 200 else 1
    body: dict[str, Any] = {"action": action, "version": version}
    if comment is not None:
        body["comment"] = comment
    return client.post(f"/api/articles/{slug}/review", json=body, headers=e.bearer(who))


def edited(client: TestClient, slug: str, change: str) -> dict[str, Any]:
    """The public answer JSON with its first bottom-line statement rewritten, as an editor would send it back."""
    answer: dict[str, Any] = client.get(f"/api/articles/{slug}").json()["answer"]
    answer["bottom_line"][0]["text"] = change
    return answer


def test_review_needs_a_valid_bearer_token(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, QUESTIONS[0])
    url = f"/api/articles/{slug}/review"
    for headers in ({}, {"Authorization": "Bearer bst_not-a-token"}, {"Authorization": "Basic cml0YTpwdw=="}):
        r = api.post(url, json={"action": "claim"}, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
    assert api.post(f"/api/articles/{slug}/versions", json={"bottom_line": []}).status_code == 401
    editorial.articles.set_active(editorial.email("reviewer2"), False)
    try:
        assert act(api, editorial, "reviewer2", slug, "claim").status_code == 401  # a disabled account's token
    finally:
        editorial.articles.set_active(editorial.email("reviewer2"), True)
        old = editorial.tokens["reviewer2"]
        editorial.tokens["reviewer2"] = editorial.articles.issue_token(editorial.email("reviewer2"))
    assert (
        api.post(url, json={"action": "claim", "version": 1}, headers={"Authorization": f"Bearer {old}"}).status_code
        == 401
    )  # re-activated: the old token stays dead; the new one works
    assert act(api, editorial, "reviewer", "no-such-article", "claim").status_code == 404


def test_the_status_matrix_through_a_whole_review(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, QUESTIONS[1])
    e = editorial
    assert act(api, e, "editor", slug, "claim").status_code == 403  # an editor may never claim
    assert act(api, e, "reviewer", slug, "approve").status_code == 409  # not from submitted
    assert (
        api.post(f"/api/articles/{slug}/review", json={"action": "publish"}, headers=e.bearer("reviewer")).status_code
        == 422
    )

    r = act(api, e, "reviewer", slug, "claim")
    assert r.status_code == 200 and r.json()["status"] == "under_review"
    assert r.json()["claimed_by"] == e.email("reviewer")
    assert act(api, e, "reviewer2", slug, "claim").status_code == 409  # already claimed
    assert act(api, e, "reviewer2", slug, "approve").status_code == 403  # someone else's claim
    r = act(api, e, "reviewer", slug, "request_changes")
    assert r.status_code == 422 and "comment" in r.json()["detail"]
    assert act(api, e, "reviewer", slug, "reject", "   ").status_code == 422
    r = act(api, e, "reviewer", slug, "request_changes", "Say which antibiotic first.")
    assert r.status_code == 200 and r.json()["status"] == "changes_requested"
    shown = api.get(f"/api/articles/{slug}").json()
    assert shown["status"] == "changes_requested" and shown["approved_by"] == "" and shown["approved_at"] == ""

    versions = f"/api/articles/{slug}/versions"
    uncited = edited(api, slug, "An uncited claim.")
    uncited["bottom_line"][0]["citations"] = []
    r = api.post(versions, json=uncited, headers=e.bearer("editor"))
    assert r.status_code == 422 and "citation" in r.json()["detail"]
    assert api.post(versions, json=edited(api, slug, "x"), headers=e.bearer("reviewer")).status_code == 403
    assert (
        api.post("/api/articles/nope/versions", json=edited(api, slug, "x"), headers=e.bearer("editor")).status_code
        == 404
    )
    body = {**edited(api, slug, "Edited by the editor."), "base": 1}
    r = api.post(versions, json=body, headers=e.bearer("editor"))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "submitted" and r.json()["version"] == 2
    assert api.post(versions, json=body, headers=e.bearer("editor")).status_code == 409  # edited from a stale base

    assert act(api, e, "reviewer", slug, "claim").status_code == 200
    r = act(api, e, "reviewer", slug, "approve")  # "Edited by the editor." is in no source: an override is needed
    assert r.status_code == 422 and "override" in r.json()["detail"]
    body = {"action": "approve", "comment": "Checked by hand.", "override": True, "version": 2}
    r = api.post(f"/api/articles/{slug}/review", json=body, headers=e.bearer("reviewer"))
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["approved_version"] == 2
    assert act(api, e, "reviewer", slug, "approve").status_code == 409  # already approved
    shown = api.get(f"/api/articles/{slug}").json()
    assert shown["status"] == "approved" and shown["approved_by"] == "a member of the Medical Advisory Board"
    assert shown["approved_at"] and shown["answer"]["updated"] == shown["approved_at"][:10]
    assert shown["answer"]["status"] == "approved" and shown["version"] == 2
    assert shown["answer"]["bottom_line"][0]["text"] == "Edited by the editor."
    assert (
        shown["answer"]["bottom_line"][0]["editor"] is True and shown["answer"]["bottom_line"][0]["supported"] is False
    )
    actions = [event.action for event in e.articles.history(slug)]
    assert actions == ["compose", "claim", "request_changes", "edit", "claim", "approve"]


def test_a_reviewer_may_not_approve_their_own_edit(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, QUESTIONS[2])
    r = api.post(
        f"/api/articles/{slug}/versions", json=edited(api, slug, "Admin's words."), headers=editorial.bearer("admin")
    )
    assert r.status_code == 201
    assert act(api, editorial, "admin", slug, "claim").status_code == 200
    r = act(api, editorial, "admin", slug, "approve")
    assert r.status_code == 403 and "another reviewer" in r.json()["detail"]


def test_two_reviewers_claiming_at_once_one_wins(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, QUESTIONS[3])
    codes: list[int] = []
    start = threading.Barrier(2)

    def claim(who: str) -> None:
        start.wait()
        codes.append(act(api, editorial, who, slug, "claim").status_code)

    threads = [threading.Thread(target=claim, args=(who,)) for who in ("reviewer", "reviewer2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 409]


def test_a_rejected_article_is_hidden_from_the_public(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, QUESTIONS[4])
    assert act(api, editorial, "reviewer", slug, "claim").status_code == 200
    r = act(api, editorial, "reviewer", slug, "reject", "Off-topic sources.")
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert api.get(f"/api/articles/{slug}").status_code == 404
    assert api.get(f"/articles/{slug}").status_code == 404
    assert slug not in [a["slug"] for a in api.get("/api/articles").json()["articles"]]
    assert act(api, editorial, "reviewer", slug, "claim").status_code == 409  # nothing to review until a new version
    again = api.post("/api/ask", json={"question": QUESTIONS[4]})  # asked again: composed afresh, back to review
    assert again.status_code == 200 and again.json()["status"] == "submitted" and again.json()["slug"] == slug
    assert api.get(f"/api/articles/{slug}").json()["version"] == 2
    assert act(api, editorial, "reviewer", slug, "claim").status_code == 200
    assert act(api, editorial, "reviewer", slug, "reject", "Still off-topic.").status_code == 200
    latest = api.get(f"/api/articles/{slug}/review", headers=editorial.bearer("editor")).json()["answer"]  # staff view
    latest["bottom_line"][0]["text"] = "Rewritten after rejection."
    r = api.post(f"/api/articles/{slug}/versions", json={**latest, "base": 2}, headers=editorial.bearer("editor"))
    assert r.status_code == 201 and r.json()["status"] == "submitted" and r.json()["version"] == 3


def test_claim_and_approve_act_only_on_the_version_the_reviewer_saw(api: TestClient, editorial: Editorial) -> None:
    e = editorial
    slug = ask_api(api, "What is the first-line treatment for atrial fibrillation?")
    seen = api.get(f"/api/articles/{slug}/review", headers=e.bearer("reviewer")).json()
    assert seen["version"] == 1 and seen["answer"]["bottom_line"] and seen["status"] == "submitted"
    for action in ("claim", "approve"):
        r = api.post(f"/api/articles/{slug}/review", json={"action": action}, headers=e.bearer("reviewer"))
        assert r.status_code == 422 and "needs the version you reviewed" in r.json()["detail"]
    # An editor saves version 2 while the reviewer is still reading version 1.
    body = {**edited(api, slug, "Give 10 units of insulin every hour."), "base": 1}
    assert api.post(f"/api/articles/{slug}/versions", json=body, headers=e.bearer("editor")).status_code == 201
    r = act(api, e, "reviewer", slug, "claim", version=1)
    assert r.status_code == 409 and "you reviewed version 1 but the latest is version 2" in r.json()["detail"]
    assert e.articles.get(slug).status.value == "submitted"  # nothing changed
    assert act(api, e, "reviewer", slug, "claim", version=2).status_code == 200
    r = act(api, e, "reviewer", slug, "approve", version=1)  # stale first: version 1 needed no override
    assert r.status_code == 409 and "you reviewed version 1 but the latest is version 2" in r.json()["detail"]
    assert e.articles.get(slug).approved_version == 0
    assert act(api, e, "reviewer", slug, "approve", version=2).status_code == 422  # the edit is in no source
    body = {"action": "approve", "version": 2, "override": True, "comment": "Checked against the protocol."}
    assert api.post(f"/api/articles/{slug}/review", json=body, headers=e.bearer("reviewer")).status_code == 200


def test_the_review_form_names_the_version_it_shows(api: TestClient, editorial: Editorial) -> None:
    from editorial_support import csrf_of, person

    slug = ask_api(api, "How is diabetic ketoacidosis diagnosed?")
    reviewer = person(editorial, "reviewer")
    page = reviewer.get(f"/review/{slug}")
    assert '<input type="hidden" name="version" value="1">' in page.text
    body = {**edited(api, slug, "Edited text."), "base": 1}
    assert api.post(f"/api/articles/{slug}/versions", json=body, headers=editorial.bearer("editor")).status_code == 201
    r = reviewer.post(f"/review/{slug}/action", data={"csrf": csrf_of(page.text), "action": "claim", "version": "1"})
    assert r.status_code == 409 and "you reviewed version 1 but the latest is version 2" in r.text
    assert editorial.articles.get(slug).claimed_by == ""
