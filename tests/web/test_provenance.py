"""Honest sources and edits that keep provenance.

A starter digest is cited as bedside's own summary of a guideline (never in quotation marks, with its review state
and the guideline's link); a quoted passage names its section. An editor's rewritten statement is labelled as the
editor's words and checked by the verifier; an unsupported one cannot be approved without an override that the
audit log records, and references no statement cites any more leave the version.
"""

from __future__ import annotations

import json
import re
from typing import Any

from editorial_support import Editorial, ask_api, ask_form, csrf_of, person
from fastapi.testclient import TestClient

from bedside.answer.render import reference_line, to_markdown
from bedside.editorial.edits import Verdict, apply_edit, prechecked, unsupported_statements
from bedside.editorial.interface import ReviewStatus, Role, User
from bedside.editorial.states import Subject, advance
from bedside.errors import InvalidInput
from bedside.model import Answer, DocumentId, EvidenceType, PassageId, Provenance, Reference, Statement
from bedside.web.views import article_view

QUESTION = "What is the first-line treatment for acute ischaemic stroke?"
UNSUPPORTED = "Give 900 mg of aspirin by mouth every hour for a week after any stroke."


def act(client: TestClient, slug: str, action: str, comment: str = "", **extra: str) -> Any:
    """A review action from the article's review page, naming the version that page shows."""
    page = client.get(f"/review/{slug}")
    token, version = csrf_of(page.text), str(page.context["review"].shown)  # type: ignore[attr-defined]
    data = {"csrf": token, "action": action, "comment": comment, "confirm": "1", "version": version, **extra}
    return client.post(f"/review/{slug}/action", data=data)


def edit_fields(client: TestClient, slug: str) -> dict[str, str]:
    r = client.get(f"/review/{slug}/edit")
    assert r.status_code == 200, r.text
    page = r.context["edit"]  # type: ignore[attr-defined]
    fields = {"csrf": csrf_of(r.text), "base": str(page.base), "title": page.title}
    fields.update({s.name: s.text for g in page.groups for s in g.statements})
    return fields


# -- digests ---------------------------------------------------------------------------------------------------------


def test_a_digest_is_cited_as_bedsides_own_summary_with_its_review_state(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, QUESTION)
    data = api.get(f"/api/articles/{slug}").json()["answer"]
    store = editorial.app.state.service.bedside.store
    docs = store.documents([r["document_id"] for r in data["references"]])
    digests = [r for r in data["references"] if docs[r["document_id"]].guideline]
    assert digests, "the starter knowledge base cites its digests"
    for ref in digests:
        doc = docs[ref["document_id"]]
        assert ref["digest"] is True and ref["reviewed"] is (doc.reviewed is True)
        assert ref["title"] == doc.guideline

    r = api.get(f"/articles/{slug}")
    view = r.context["article"]  # type: ignore[attr-defined]
    first = view.references[0]
    doc = docs[data["references"][0]["document_id"]]
    assert first.digest and first.shown == f"bedside digest of {doc.guideline.rstrip('.')}, {first.source} {doc.year}"
    assert first.review_note == "not yet reviewed by the Medical Advisory Board"
    assert f'bedside digest of <cite class="ref-title">{_html(doc.guideline)}</cite>' in r.text
    assert "Summary written for bedside, not yet reviewed by the Medical Advisory Board." in r.text

    cite = view.bottom_line[0].citations[0]
    assert cite.digest and cite.quote and cite.locator  # the digest's section heading
    assert cite.reference_title.startswith("bedside digest of ")
    popover = _popover(r.text, "bl-1-1")
    assert "<q" not in popover, "a digest's own words are not a quotation of the guideline"
    assert "not the guideline's own words; not yet reviewed by the Medical Advisory Board" in popover
    assert f"Digest section: {_html(cite.locator)}" in popover
    assert 'class="source-pop-link"' in popover and "The guideline itself" in popover

    answer = Answer.from_dict(data)
    assert answer.references[0].digest and "bedside digest of" in reference_line(answer.references[0])
    markdown = to_markdown(answer)
    assert "(not yet reviewed by the Medical Advisory Board)" in markdown


def test_a_quoted_passage_is_in_quotation_marks_with_its_section() -> None:
    text = "Intro.\n\nTreatment\n\nGive drug X 10 mg daily. Monitor weekly."
    start = text.index("Give")
    prov = Provenance(PassageId("d1#9"), DocumentId("d1"), start, start + len("Give drug X 10 mg daily."))
    ref = Reference(1, DocumentId("d1"), EvidenceType.RANDOMIZED_TRIAL, "A trial of X", "J Med", 2020, "")
    answer = Answer(
        "q?", "Title?", "clinician", (Statement("Give drug X 10 mg daily.", (1,), (prov,)),), (), (ref,), False
    )
    view = article_view(answer, {"d1": text}, sections={"d1#9": "A trial of X > Treatment"})
    cite = view.bottom_line[0].citations[0]
    assert (cite.quote, cite.locator, cite.digest) == ("Give drug X 10 mg daily.", "Treatment", False)
    assert reference_line(ref) == "Randomized trial — A trial of X. J Med, 2020."


# -- edits -----------------------------------------------------------------------------------------------------------


def _base() -> dict[str, Any]:
    refs = [
        {"number": 1, "type": "Guideline", "title": "G1", "source": "", "year": 2020, "url": "", "document_id": "a"},
        {"number": 2, "type": "Guideline", "title": "G2", "source": "", "year": 2021, "url": "", "document_id": "b"},
    ]
    prov = [{"passage_id": "a#0", "document_id": "a", "start": 0, "end": 10}]
    return {
        "title": "T",
        "references": refs,
        "bottom_line": [{"text": "Kept as it was.", "citations": [1], "provenance": prov}],
        "sections": [{"heading": "H", "statements": [{"text": "Only cites two.", "citations": [2], "provenance": []}]}],
    }


def test_an_edit_marks_the_editors_words_checks_them_and_drops_uncited_references() -> None:
    base = _base()
    seen: list[tuple[str, list[str]]] = []

    def check(text: str, documents: list[str], provenance: list[dict[str, Any]]) -> Verdict:
        seen.append((text, documents))
        return Verdict(False, "number '900 mg' is not in the cited passages", [])

    edited = {**base, "bottom_line": [*base["bottom_line"], {"text": UNSUPPORTED, "citations": [1]}], "sections": []}
    new = apply_edit(base, edited, check)
    assert seen == [(UNSUPPORTED, ["a"])]  # only the changed statement is checked
    kept, added = new["bottom_line"]
    assert kept == base["bottom_line"][0]  # an unchanged statement keeps its provenance, and is not the editor's
    assert added["editor"] is True and added["supported"] is False and "900 mg" in added["check"]
    assert [r["document_id"] for r in new["references"]] == ["a"]  # "b" is cited by no statement any more
    assert unsupported_statements(new) == [UNSUPPORTED]
    # Without a checker an editor's statement counts as unchecked; a client cannot mark its own words supported.
    forged = {**edited, "bottom_line": [{"text": "New words.", "citations": [2], "editor": False, "supported": True}]}
    unchecked = apply_edit(base, forged)
    assert unchecked["bottom_line"][0]["supported"] is False and unchecked["bottom_line"][0]["citations"] == [1]
    assert unchecked["references"][0]["document_id"] == "b"  # renumbered in order of first citation


def test_approving_an_unsupported_edit_needs_an_override_with_a_reason() -> None:
    reviewer = User(1, "rita@example.org", Role.REVIEWER)
    subject = Subject(ReviewStatus.UNDER_REVIEW, 2, "eddie@example.org", reviewer.email, unsupported=1)
    for override, comment in ((False, "Looks fine."), (True, "")):
        try:
            advance(subject, "approve", reviewer, "2026-12-06T10:00:00+00:00", comment, override=override)
        except InvalidInput as exc:
            assert "override" in str(exc)
        else:
            raise AssertionError("approved without the override and its reason")
    step = advance(subject, "approve", reviewer, "2026-12-06T10:00:00+00:00", "Checked p. 4.", override=True)
    assert step.status is ReviewStatus.APPROVED and step.event.comment.startswith("override: approved with 1 editor")


def test_an_unsupported_edit_cannot_be_approved_without_the_recorded_override(
    api: TestClient, editorial: Editorial
) -> None:
    slug = ask_api(api, "How is atrial fibrillation diagnosed?")
    reviewer, editor = person(editorial, "reviewer"), person(editorial, "editor")
    original = editorial.articles.get(slug).latest.answer
    fields = edit_fields(editor, slug)
    same_words = original["bottom_line"][0]["text"].rstrip(".") + " ."  # changed, but the source's own words
    changed = {**fields, "text:bl:0": same_words, "new:bl": UNSUPPORTED, "cite:bl": "1"}
    assert editor.post(f"/review/{slug}/edit", data=changed).status_code == 303
    latest = editorial.articles.get(slug).latest.answer
    reworded, added = latest["bottom_line"][0], latest["bottom_line"][-1]
    assert reworded["editor"] is True and reworded["supported"] is True, reworded
    assert added["text"] == UNSUPPORTED and added["editor"] is True and added["supported"] is False
    assert "900" in added["check"]

    assert act(reviewer, slug, "claim").status_code == 303
    r = reviewer.get(f"/review/{slug}")
    assert r.context["review"].unsupported == (UNSUPPORTED,)  # type: ignore[attr-defined]
    assert "Editor's statement · NOT found in its cited source" in r.text and 'name="override"' in r.text
    unconfirmed = act(reviewer, slug, "approve", "Fine.", override="1", confirm="")
    assert unconfirmed.status_code == 422 and "tick the box" in unconfirmed.context["message"]  # type: ignore[attr-defined]
    refused = act(reviewer, slug, "approve", "Fine.")
    assert refused.status_code == 422 and "override" in refused.context["message"]  # type: ignore[attr-defined]
    api_refusal = api.post(
        f"/api/articles/{slug}/review", json={"action": "approve", "version": 2}, headers=editorial.bearer("reviewer")
    )
    assert api_refusal.status_code == 422 and "override" in api_refusal.json()["detail"]
    assert act(reviewer, slug, "approve", "", override="1").status_code == 422  # the override needs a reason
    assert editorial.articles.get(slug).status is ReviewStatus.UNDER_REVIEW
    assert act(reviewer, slug, "approve", "Checked against section 3 myself.", override="1").status_code == 303

    article = editorial.articles.get(slug)
    assert article.status is ReviewStatus.APPROVED
    last = editorial.articles.history(slug)[-1]
    assert last.action == "approve" and last.actor == editorial.email("reviewer")
    assert last.comment.startswith("override: approved with 1 editor statement")
    assert last.comment.endswith("Checked against section 3 myself.")

    page = api.get(f"/articles/{slug}")
    view = page.context["article"]  # type: ignore[attr-defined]
    shown = view.bottom_line[-1]
    assert shown.text == UNSUPPORTED and shown.editor and not shown.supported
    assert all(c.quote == "" for c in shown.citations)  # no passage is presented as its source
    assert "Editor's statement (not found in the cited source by bedside's check):" in page.text
    assert view.bottom_line[0].editor and view.bottom_line[0].supported
    data = api.get(f"/api/articles/{slug}").json()["answer"]
    assert data["bottom_line"][-1]["editor"] is True and data["bottom_line"][-1]["supported"] is False
    markdown = editorial.articles.export(markdown=to_markdown)[f"{slug}.md"]  # the approved version, exported
    assert f"Editor's statement (not found in the cited source by bedside's check): {UNSUPPORTED}" in markdown


def _popover(html: str, pop_id: str) -> str:
    found = re.search(rf'<span class="source-pop" role="tooltip" id="{pop_id}">(.*?)</span></span>', html, re.S)
    assert found, f"no popover {pop_id}"
    return found.group(1)


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;").replace('"', "&#34;")
    )


# -- no article from nothing -----------------------------------------------------------------------------------------

OFF_TOPIC = ("How do I fix a flat bicycle tyre?", "What is the best way to repair a cracked car windscreen?")


def test_an_answer_that_abstains_is_shown_to_its_asker_but_never_becomes_an_article(
    api: TestClient, editorial: Editorial
) -> None:
    for question in OFF_TOPIC:
        r = api.post("/api/ask", json={"question": question})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["insufficient_evidence"] is True, question
        assert body["slug"] == "" and body["status"] == "unpublished" and body["conversation"]
        page = ask_form(api, {"question": question})
        assert page.status_code == 303 and page.headers["location"].startswith("/answer?c=c-")
        shown = api.get(page.headers["location"])
        assert shown.status_code == 200 and "no-store" in shown.headers["cache-control"]
        assert "too little evidence" in shown.text and "not published as an article" in shown.text
        assert "Clinical answer" not in shown.text and "Review status" not in shown.text
    assert not any(a.question in {q.lower().rstrip("?") for q in OFF_TOPIC} for a in editorial.articles.list())
    assert all(not a.latest.answer.get("insufficient_evidence") for a in editorial.articles.list(limit=500))
    home = api.get("/")
    assert not any("bicycle" in a.title.lower() for a in home.context["approved"])  # type: ignore[attr-defined]
    assert "bicycle" not in home.text.lower()
    queue = person(editorial, "reviewer").get("/review").context["groups"]  # type: ignore[attr-defined]
    assert not any("bicycle" in item.question for g in queue for item in g.items)
    assert api.get("/answer", params={"c": "c-unknown"}).status_code == 404
    streamed = api.post("/api/ask/stream", json={"question": OFF_TOPIC[0]}).text
    done = json.loads(streamed.split("event: done\ndata: ", 1)[1].split("\n\n", 1)[0])
    assert done["url"] == "/answer" and done["insufficient_evidence"] and done["slug"] == ""  # the page adds ?c=


def test_a_one_word_question_is_answered_to_its_asker_but_never_becomes_an_article(
    api: TestClient, editorial: Editorial
) -> None:
    """ "b12?" names a subject and asks nothing of it: the asker sees what the knowledge base says, and no article,
    listing or review item is made of it; the full question is published as usual."""
    before = len(editorial.articles.list(limit=500))
    r = api.post("/api/ask", json={"question": "b12?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["slug"] == "" and body["status"] == "unpublished"
    page = ask_form(api, {"question": "b12?"})
    assert page.status_code == 303 and page.headers["location"].startswith("/answer?c=c-")
    shown = api.get(page.headers["location"])
    assert shown.status_code == 200 and "a question this short" in shown.text
    assert len(editorial.articles.list(limit=500)) == before
    full = api.post("/api/ask", json={"question": "How is vitamin B12 deficiency treated?"}).json()
    assert full["slug"] and full["status"] != "unpublished"


# -- the Medical Advisory Board --------------------------------------------------------------------------------------


def test_an_admin_names_the_board_on_the_admin_page_and_bad_names_are_refused(
    api: TestClient, editorial: Editorial
) -> None:
    admin = person(editorial, "admin")
    token = csrf_of(admin.get("/admin/users").text)
    fields = {"csrf": token, "email": editorial.email("reviewer2"), "credentials": "MB ChB, PhD"}
    r = admin.post(
        "/admin/users/profile",
        data={**fields, "display_name": "Prof Rob Okafor", "affiliation": "Royal Infirmary, Department of Medicine"},
    )
    assert r.status_code == 200 and "is now shown as: Prof Rob Okafor, MB ChB, PhD" in r.text
    user = editorial.articles.get_user(editorial.email("reviewer2"))
    assert (user.display_name, user.credentials, user.affiliation) == (
        "Prof Rob Okafor",
        "MB ChB, PhD",
        "Royal Infirmary, Department of Medicine",
    )
    refused = admin.post("/admin/users/profile", data={**fields, "display_name": "rob@example.org"})
    assert refused.status_code == 422 and "email address" in refused.text
    assert editorial.articles.get_user(editorial.email("reviewer2")).display_name == "Prof Rob Okafor"
    board = api.get("/board")
    assert "Prof Rob Okafor" in board.text and "Royal Infirmary, Department of Medicine" in board.text
    editor = person(editorial, "editor")
    own = {**fields, "csrf": csrf_of(editor.get("/review").text), "display_name": "Someone Else"}
    assert editor.post("/admin/users/profile", data=own).status_code == 403  # only an admin names the board


# -- the review desk -------------------------------------------------------------------------------------------------


def test_a_change_request_with_statement_notes_reaches_the_editor(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, "How is iron deficiency anaemia diagnosed?")
    reviewer, editor = person(editorial, "reviewer"), person(editorial, "editor")
    assert act(reviewer, slug, "claim").status_code == 303
    page = reviewer.get(f"/review/{slug}")
    assert 'name="note:bl:0" form="changes-form"' in page.text and 'id="changes-form"' in page.text
    assert 'name="confirm" value="1" required' in page.text  # approval asks for confirmation
    first = editorial.articles.get(slug).latest.answer["bottom_line"][0]["text"]
    r = act(reviewer, slug, "request_changes", "Lead with the ferritin threshold.", **{"note:bl:0": "Name the test."})
    assert r.status_code == 303
    event = editorial.articles.history(slug)[-1]
    assert event.comment.startswith("Lead with the ferritin threshold.\n[bl:0 «")
    assert event.comment.endswith("] Name the test.") and first[:20] in event.comment

    top = reviewer.get(f"/review/{slug}")
    request = top.context["review"].change_request  # type: ignore[attr-defined]
    assert (request.comment, dict(request.notes)) == ("Lead with the ferritin threshold.", {"bl:0": "Name the test."})
    assert top.text.index('id="change-request"') < top.text.index('id="sbs-h"')  # at the top of the page
    assert "<strong>Change requested:</strong> Name the test." in top.text

    form = editor.get(f"/review/{slug}/edit")
    assert form.status_code == 200 and "Lead with the ferritin threshold." in form.text
    statement = form.context["edit"].groups[0].statements[0]  # type: ignore[attr-defined]
    assert statement.note == "Name the test." and 'aria-describedby="text-bl-0-note"' in form.text
    bad = act(reviewer, slug, "claim")  # nothing to claim while changes are requested: no crash, a message
    assert bad.status_code == 409


def test_the_source_column_shows_neighbouring_sentences_and_opens_the_document_there(
    api: TestClient, editorial: Editorial
) -> None:
    slug = ask_api(api, "What is the first-line treatment for community-acquired pneumonia?")
    reviewer = person(editorial, "reviewer")
    page = reviewer.get(f"/review/{slug}")
    cites = [c for s in page.context["review"].view.bottom_line for c in s.citations if c.quote]  # type: ignore[attr-defined]
    assert cites
    store = editorial.app.state.service.bedside.store
    for c in cites:
        text = store.documents([c.document_id])[c.document_id].text
        assert text[c.start : c.end].strip() in c.quote
        if c.before:
            assert text.rfind(c.before, 0, c.start) >= 0  # the sentence before, from the same document
        if c.after:
            assert text.find(c.after, c.end) >= 0
    assert any(c.before or c.after for c in cites)
    c = cites[0]
    link = f"/review/source?doc={c.document_id}&amp;start={c.start}&amp;end={c.end}#cited"
    assert link in page.text
    doc = reviewer.get("/review/source", params={"doc": c.document_id, "start": c.start, "end": c.end})
    assert doc.status_code == 200 and f'<mark id="cited" tabindex="-1">{_html(text_of(store, c))}</mark>' in doc.text
    assert api.get("/review/source", params={"doc": c.document_id}).status_code == 303  # staff only
    assert reviewer.get("/review/source", params={"doc": "no-such-document"}).status_code == 404
    assert (
        reviewer.get("/review/source", params={"doc": c.document_id, "start": 10**9, "end": 10**9}).status_code == 422
    )


def text_of(store: Any, c: Any) -> str:
    return str(store.documents([c.document_id])[c.document_id].text[c.start : c.end])


def test_the_edit_is_checked_before_its_transaction_and_nothing_checked_twice() -> None:
    base = _base()
    calls: list[str] = []

    def check(text: str, documents: list[str], provenance: list[dict[str, Any]]) -> Verdict:
        calls.append(text)
        return Verdict(True, "supported", [{"passage_id": "a#0", "document_id": "a", "start": 1, "end": 5}])

    edited = {**base, "bottom_line": [{"text": "Reworded.", "citations": [1]}]}
    lookup = prechecked(base, edited, check)
    assert calls == ["Reworded."]
    new = apply_edit(base, edited, lookup)
    assert calls == ["Reworded."] and new["bottom_line"][0]["supported"] is True
    assert new["bottom_line"][0]["provenance"][0]["start"] == 1  # the supporting span replaces the old one
    other = {**base, "bottom_line": [{"text": "Not seen before.", "citations": [1]}]}
    assert apply_edit(base, other, lookup)["bottom_line"][0]["supported"] is False  # unseen: unchecked
