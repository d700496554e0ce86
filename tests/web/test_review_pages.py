"""The review pages by their template context: the queue, sources side by side, buttons for allowed actions only,
refused steps as page messages, editing, diffs and history, the public page after approval, and user admin."""

from __future__ import annotations

import re
from typing import Any

from editorial_support import Editorial, ask_api, csrf_of, person
from fastapi.testclient import TestClient

from bedside.web.review import ReviewPage, diff_lines, edited_answer

FIRST = "What is the first-line treatment for acute ischaemic stroke?"
SECOND = "How is atrial fibrillation diagnosed?"


def review(client: TestClient, slug: str, **params: Any) -> tuple[ReviewPage, Any]:
    r = client.get(f"/review/{slug}", params=params)
    assert r.status_code == 200, r.text
    page: ReviewPage = r.context["review"]  # type: ignore[attr-defined]
    return page, r


def act(client: TestClient, slug: str, action: str, comment: str = "") -> Any:
    """A review action from the article's review page, naming the version that page shows (approving: the
    confirmation box ticked)."""
    page = client.get(f"/review/{slug}")
    token = csrf_of(page.text)
    version = str(page.context["review"].shown)  # type: ignore[attr-defined]
    data = {"csrf": token, "action": action, "comment": comment, "version": version, "confirm": "1"}
    return client.post(f"/review/{slug}/action", data=data)


def edit_fields(client: TestClient, slug: str) -> dict[str, str]:
    """The edit form's fields as the browser would send them."""
    r = client.get(f"/review/{slug}/edit")
    assert r.status_code == 200, r.text
    page = r.context["edit"]  # type: ignore[attr-defined]
    fields = {"csrf": csrf_of(r.text), "base": str(page.base), "title": page.title}
    fields.update({s.name: s.text for g in page.groups for s in g.statements})
    return fields


def test_the_queue_puts_submitted_first_and_the_longest_waiting_on_top(api: TestClient, editorial: Editorial) -> None:
    first, second = ask_api(api, FIRST), ask_api(api, SECOND)
    r = person(editorial, "reviewer").get("/review")
    assert r.status_code == 200 and r.template.name == "review_queue.html"  # type: ignore[attr-defined]
    groups = r.context["groups"]  # type: ignore[attr-defined]
    assert [g.status for g in groups][:3] == ["submitted", "under_review", "changes_requested"]
    submitted = [item.slug for item in groups[0].items]
    assert submitted.index(first) < submitted.index(second)
    assert groups[0].items[0].actions == ("claim",)
    assert "no-store" in r.headers["cache-control"]


def test_the_article_beside_the_exact_text_of_its_sources(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, FIRST)
    page, r = review(person(editorial, "reviewer"), slug)
    answer = editorial.articles.get(slug).latest.answer
    stored = answer["bottom_line"][0]
    span = stored["provenance"][0]
    document = editorial.app.state.service.bedside.store.documents([span["document_id"]])[span["document_id"]]
    quote = page.view.bottom_line[0].citations[0].quote
    assert quote and quote == document.text[span["start"] : span["end"]].strip()
    assert quote in r.text.replace("&#39;", "'") and page.view.bottom_line[0].text == stored["text"]
    assert [e.action for e in page.history] == ["compose"]
    assert page.public_url == f"/articles/{slug}"


def test_buttons_only_for_what_each_person_may_do(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, SECOND)
    reviewer, editor = person(editorial, "reviewer"), person(editorial, "editor")
    page, r = review(reviewer, slug)
    assert page.actions == ("claim",) and not page.can_edit
    assert 'value="claim"' in r.text and 'value="approve"' not in r.text and "/edit" not in r.text
    page, r = review(editor, slug)
    assert page.actions == () and page.can_edit and f"/review/{slug}/edit" in r.text
    assert act(reviewer, slug, "claim").headers["location"] == f"/review/{slug}?done=claim"
    page, r = review(reviewer, slug, done="claim")
    assert set(page.actions) == {"release", "approve", "request_changes", "reject"} and "You claimed" in r.text
    page, _ = review(person(editorial, "reviewer2"), slug)  # claimed by someone else
    assert page.actions == () and not page.can_edit
    assert act(reviewer, slug, "release").status_code == 303


def test_refused_steps_are_page_messages_with_their_status(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, "What is the first-line treatment for diabetic ketoacidosis?")
    reviewer, editor = person(editorial, "reviewer"), person(editorial, "editor")
    cases = [
        (reviewer, "approve", "", 409, "cannot approve an article that is submitted"),
        (editor, "claim", "", 403, "an editor may not claim"),
        (reviewer, "publish", "", 422, "unknown review action"),
    ]
    for client, action, comment, code, words in cases:
        r = act(client, slug, action, comment)
        assert r.status_code == code and r.template.name == "review_article.html"  # type: ignore[attr-defined]
        assert r.context["kind"] == "error" and words in r.context["message"]  # type: ignore[attr-defined]
        assert words in r.text
    act(reviewer, slug, "claim")
    r = act(reviewer, slug, "request_changes", "  ")
    assert r.status_code == 422 and "needs a comment" in r.text
    assert act(reviewer, slug, "reject", "").status_code == 422
    assert person(editorial, "editor").get(f"/review/{slug}/edit").status_code == 409  # under review: no edits
    assert reviewer.get("/review/no-such-article").status_code == 404


def test_edit_request_changes_diff_and_history(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, "How is pulmonary embolism diagnosed?")
    reviewer, editor = person(editorial, "reviewer"), person(editorial, "editor")
    act(reviewer, slug, "claim")
    assert act(reviewer, slug, "request_changes", "Lead with the Wells score.").status_code == 303
    fields = edit_fields(editor, slug)
    original = fields["text:bl:0"]
    token = fields["csrf"]
    bad = {**fields, "new:bl": "A new claim with no source."}
    r = editor.post(f"/review/{slug}/edit", data=bad)
    assert r.status_code == 422 and "at least one citation" in r.context["message"]  # type: ignore[attr-defined]
    kept = r.context["edit"].groups[0]  # type: ignore[attr-defined]
    assert kept.new_text == "A new claim with no source."  # what the editor typed is still there
    changed = {**fields, "text:bl:0": "Use the Wells score first. " + original, "new:0": "A cited addition."}
    r = editor.post(f"/review/{slug}/edit", data={**changed, "cite:0": "1"})
    assert r.status_code == 303 and r.headers["location"] == f"/review/{slug}?done=edit"
    article = editorial.articles.get(slug)
    assert article.status.value == "submitted" and article.latest.number == 2
    assert (
        article.latest.answer["bottom_line"][0]["citations"]
        == article.versions[0].answer["bottom_line"][0]["citations"]
    )
    assert article.latest.answer["sections"][0]["statements"][-1]["citations"] == [1]
    stale = editor.post(f"/review/{slug}/edit", data={**changed, "csrf": token, "cite:0": "1"})
    assert stale.status_code == 409 and "no longer the latest" in stale.text
    page, r = review(reviewer, slug)
    assert page.diff is not None and (page.diff.old, page.diff.new) == (1, 2) and page.diff.changed
    added = [p.text for row in page.diff.rows if row.kind == "added" for p in row.parts if p.kind == "added"]
    assert any("Wells score first." in text for text in added) and any("A cited addition." in t for t in added)
    assert "Use the Wells score first.</ins>" in r.text  # the words added, marked within the statement
    actions = [(e.action, e.actor, e.comment) for e in page.history]
    assert actions[2] == ("request_changes", editorial.email("reviewer"), "Lead with the Wells score.")
    assert actions[3][:2] == ("edit", editorial.email("editor"))
    old, _ = review(reviewer, slug, v=1, **{"from": 2})
    assert old.shown == 1 and old.diff is not None and (old.diff.old, old.diff.new) == (2, 1)
    assert reviewer.get(f"/review/{slug}", params={"v": 9}).status_code == 422


def test_approval_shows_on_the_public_page_and_an_approved_version_outlives_a_new_edit(
    api: TestClient, editorial: Editorial
) -> None:
    slug = ask_api(api, "What is the first-line treatment for iron deficiency anaemia?")
    reviewer, editor = person(editorial, "reviewer"), person(editorial, "editor")
    before = api.get(f"/articles/{slug}")
    assert "pending human review" in before.text and before.context["article"].approved_by == ""  # type: ignore[attr-defined]
    act(reviewer, slug, "claim")
    assert act(reviewer, slug, "approve").headers["location"] == f"/review/{slug}?done=approve"
    article = editorial.articles.get(slug)
    r = api.get(f"/articles/{slug}")
    view = r.context["article"]  # type: ignore[attr-defined]
    day = article.approved_at[:10]
    assert view.status == "approved" and not view.pending and view.updated == day
    assert (view.approved_by, view.approved_on) == ("a member of the Medical Advisory Board", day)  # no profile yet
    editorial.articles.set_profile(editorial.email("reviewer"), "Dr Rita Reyes", "MD, FRCP", "St Elsewhere Hospital")
    r = api.get(f"/articles/{slug}")
    assert r.context["article"].approved_by == "Dr Rita Reyes, MD, FRCP"  # type: ignore[attr-defined]
    assert 'Approved by <a href="/board"><strong>Dr Rita Reyes, MD, FRCP</strong></a> on' in r.text
    assert editorial.email("reviewer") not in r.text  # the public never sees a reviewer's email address
    assert api.get(f"/api/articles/{slug}").json()["approved_by"] == "Dr Rita Reyes, MD, FRCP"
    board = api.get("/board")
    assert board.status_code == 200 and "Dr Rita Reyes" in board.text and "St Elsewhere Hospital" in board.text
    assert 'href="/policy"' in board.text and editorial.email("reviewer") not in board.text
    editorial.articles.set_profile(editorial.email("reviewer"), "", "", "")
    assert "pending human review" not in r.text and f'Last updated <time datetime="{day}">' in r.text
    fields = edit_fields(editor, slug)
    assert editor.post(f"/review/{slug}/edit", data={**fields, "text:bl:0": "Rewritten."}).status_code == 303
    assert editorial.articles.get(slug).status.value == "submitted"
    view = api.get(f"/articles/{slug}").context["article"]  # type: ignore[attr-defined]
    assert view.status == "approved" and not view.pending and view.bottom_line[0].text != "Rewritten."


def test_rejected_articles_are_gone_for_the_public_but_not_for_reviewers(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, "How is hyperosmolar hyperglycaemic state diagnosed?")
    reviewer = person(editorial, "reviewer")
    act(reviewer, slug, "claim")
    assert act(reviewer, slug, "reject", "Wrong population.").status_code == 303
    public = api.get(f"/articles/{slug}")
    assert public.status_code == 404 and public.template.name == "error.html"  # type: ignore[attr-defined]
    page, r = review(reviewer, slug)
    assert page.article.status.value == "rejected" and page.public_url == "" and "Hidden from the public" in r.text
    queue = reviewer.get("/review").context["groups"]  # type: ignore[attr-defined]
    assert slug in [item.slug for g in queue if g.status == "rejected" for item in g.items]


def test_admins_add_and_deactivate_users(api: TestClient, editorial: Editorial) -> None:
    admin = person(editorial, "admin")
    token = csrf_of(admin.get("/admin/users").text)
    r = admin.post("/admin/users", data={"csrf": token, "email": "nina@example.org", "role": "editor"})
    assert r.status_code == 200 and r.context["password"]  # type: ignore[attr-defined]
    password = r.context["password"]  # type: ignore[attr-defined]
    assert password in r.text and len(password) >= 12
    assert editorial.articles.authenticate("nina@example.org", password) is not None
    again = admin.post("/admin/users", data={"csrf": token, "email": "nina@example.org", "role": "editor"})
    assert again.status_code == 422 and "already exists" in again.text
    assert admin.post("/admin/users", data={"csrf": token, "email": "x@example.org", "role": "god"}).status_code == 422
    rob = person(editorial, "reviewer2")
    assert rob.get("/review").status_code == 200
    r = admin.post("/admin/users/active", data={"csrf": token, "email": editorial.email("reviewer2"), "active": "0"})
    assert r.status_code == 200 and "deactivated" in r.text
    assert rob.get("/review").status_code == 303  # signed out at once
    r = admin.post("/admin/users/active", data={"csrf": token, "email": editorial.email("admin"), "active": "0"})
    assert r.status_code == 409 and "your own account" in r.text
    admin.post("/admin/users/active", data={"csrf": token, "email": editorial.email("reviewer2"), "active": "1"})
    assert editorial.articles.get_user(editorial.email("reviewer2")).active
    editor = person(editorial, "editor")
    assert (
        editor.post(
            "/admin/users",
            data={"csrf": csrf_of(editor.get("/review").text), "email": "z@example.org", "role": "admin"},
        ).status_code
        == 403
    )


def test_editorial_pages_keep_the_content_security_policy_without_inline_script(
    api: TestClient, editorial: Editorial
) -> None:
    slug = ask_api(api, FIRST)
    admin = person(editorial, "admin")
    for path in ("/login", "/review", f"/review/{slug}", f"/review/{slug}/edit", "/admin/users"):
        r = (api if path == "/login" else admin).get(path)
        assert r.status_code == 200, path
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "unsafe-inline" not in r.headers["content-security-policy"]
        assert re.findall(r"<script(?![^>]*\bsrc=)", r.text) == [] and not re.search(r"\son[a-z]+=", r.text)
        assert "style=" not in r.text


def test_diff_marks_changed_words_and_folds_unchanged_lines() -> None:
    old = [f"line {n}" for n in range(8)]
    new = [*old[:4], "line 4 now longer", *old[5:]]
    rows = diff_lines(old, new)
    assert [r.kind for r in rows] == ["gap", "same", "removed", "added", "same", "gap"]
    assert rows[0].parts[0].text == "3 unchanged lines" and rows[-1].parts[0].text == "2 unchanged lines"
    assert [(p.kind, p.text) for p in rows[3].parts] == [("same", "line 4"), ("added", " now longer")]
    assert diff_lines(old, old) == ()
    base = {
        "title": "T",
        "bottom_line": [{"text": "a", "citations": [1], "provenance": [{"passage_id": "p"}]}],
        "sections": [{"heading": "H", "statements": [{"text": "b", "citations": [1]}]}],
        "references": [],
    }
    fields = {"text:bl:0": ["a2"], "text:0:0": [""], "new:0": ["c"], "cite:0": ["1", "2"]}
    edited = edited_answer(base, fields)
    assert edited["bottom_line"] == [{"text": "a2", "citations": [1], "provenance": [{"passage_id": "p"}]}]
    assert edited["sections"] == [
        {"heading": "H", "statements": [{"text": "c", "citations": [1, 2], "provenance": []}]}
    ]
