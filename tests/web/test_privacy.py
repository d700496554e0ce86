"""Questions are published, so what a clinician types must not leak a patient or another person's thread: patient
identifiers are removed (with a warning) before anything is stored, unreviewed articles are never listed, and a
conversation belongs to the browser (cookie) or API token that started it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from editorial_support import ASK_TOKEN, Editorial, ask_api, ask_form
from fastapi.testclient import TestClient

IDENTIFIED = "Mr John Smith, NHS number 943 476 5919, DOB 12/03/1950: what is the first-line treatment for gout?"
SECRETS = ("Smith", "943 476 5919", "9434765919", "12/03/1950")


def _stored_text(data_dir: Path) -> str:
    """Every text value in the data directory's databases."""
    found: list[str] = []
    for path in [*data_dir.rglob("*.db"), *data_dir.rglob("*.sqlite")]:
        with sqlite3.connect(path) as db:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in db.execute(f'SELECT * FROM "{table}"'):  # names from the schema itself
                    found.extend(str(v) for v in row if isinstance(v, str))
    return "\n".join(found)


def test_identifiers_are_removed_before_anything_is_stored(api: TestClient, editorial: Editorial) -> None:
    r = api.post("/api/ask", json={"question": IDENTIFIED})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "patient identifiers (a date of birth, an NHS number and a name)" in body["meta"]["notices"][0]
    assert not any(s in body["question"] or s in body["title"] for s in SECRETS)
    follow = api.post("/api/ask", json={"question": "And in pregnancy?", "conversation": body["conversation"]})
    assert follow.status_code == 200
    page = ask_form(api, {"question": IDENTIFIED.replace("Smith", "Jones")})
    assert page.status_code == 303 and page.headers["location"].endswith("&scrubbed=1")
    shown = api.get(page.headers["location"])
    assert "they were removed before anything was stored" in shown.text and "Jones" not in shown.text
    stored = _stored_text(editorial.data_dir)
    assert "first-line treatment for gout" in stored  # the question itself is kept
    assert not any(s in stored for s in (*SECRETS, "Jones")), [s for s in SECRETS if s in stored]


def test_unreviewed_articles_are_never_listed(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, "How is hyperuricaemia treated?")
    assert api.get("/").status_code == 200 and slug not in api.get("/").text
    assert slug not in api.get("/search", params={"q": "hyperuricaemia"}).text
    assert slug not in [a["slug"] for a in api.get("/api/articles").json()["articles"]]
    assert api.get(f"/articles/{slug}").status_code == 200  # its asker can still open it


def test_a_conversation_belongs_to_the_browser_that_started_it(api: TestClient, editorial: Editorial) -> None:
    # no lifespans of their own: the module's `api` client holds the app's
    alice, mallory = TestClient(editorial.app, follow_redirects=False), TestClient(editorial.app)
    r = ask_form(alice, {"question": "How is gout treated in a patient with renal impairment?"})
    assert r.status_code == 303 and "bedside_client" in alice.cookies
    target = r.headers["location"]  # /articles/SLUG?c=CONVERSATION: a link Alice might share
    conversation = target.split("?c=")[1]
    follow_up = ask_form(alice, {"question": "What about colchicine?", "conversation": conversation})
    assert follow_up.is_redirect
    target = follow_up.headers["location"]  # the follow-up's article: its trail lists the first question
    trail = alice.get(target)
    assert trail.context["trail"] and trail.context["article"].conversation == conversation  # type: ignore[attr-defined]
    seen = mallory.get(target)
    assert seen.status_code == 200 and seen.context["trail"] == []  # type: ignore[attr-defined]
    assert conversation not in seen.text and "What about colchicine?" not in seen.text
    extend = mallory.post("/api/ask", json={"question": "And allopurinol?", "conversation": conversation})
    assert extend.status_code == 404
    page = ask_form(mallory, {"question": "And allopurinol?", "conversation": conversation})
    assert page.status_code in (404, 422) and "And allopurinol?" not in _stored_text(editorial.data_dir)


def test_an_api_conversation_belongs_to_its_token(api: TestClient, editorial: Editorial) -> None:
    first, second = TestClient(editorial.app), TestClient(editorial.app)
    started = first.post("/api/ask", json={"question": "How is gout diagnosed?"}, headers=editorial.bearer("editor"))
    conversation = started.json()["conversation"]
    same = second.post(
        "/api/ask",
        json={"question": "And in pregnancy?", "conversation": conversation},
        headers=editorial.bearer("editor"),
    )
    assert same.status_code == 200  # the same token, another connection
    other = second.post(
        "/api/ask",
        json={"question": "And in pregnancy?", "conversation": conversation},
        headers=editorial.bearer("reviewer"),
    )
    assert other.status_code == 404


def test_the_ask_form_needs_this_browsers_token(api: TestClient, editorial: Editorial) -> None:
    """CSRF: another site's form (no token, or someone else's, and SameSite=Lax keeps the cookie away) asks nothing."""
    victim, other = TestClient(editorial.app, follow_redirects=False), TestClient(editorial.app)
    question = "How is acute gout treated in an older adult with heart failure?"
    assert victim.get("/").status_code == 200 and "bedside_client" in victim.cookies
    theirs = ASK_TOKEN.search(other.get("/").text)
    assert theirs is not None
    for token in ({}, {"ask_token": ""}, {"ask_token": theirs.group(1)}):
        r = victim.post("/ask", data={"question": question, **token})
        assert r.status_code == 403 and "came from another site" in r.text
    cookieless = TestClient(editorial.app, follow_redirects=False)
    assert cookieless.post("/ask", data={"question": question, "ask_token": theirs.group(1)}).status_code == 403
    assert question.lower() not in _stored_text(editorial.data_dir).lower()
    assert ask_form(victim, {"question": question}).status_code == 303


def test_an_unpublished_answer_is_shown_to_its_asker_alone(api: TestClient, editorial: Editorial) -> None:
    """An answer that abstained is never an article: its page belongs to the browser that asked, and says what was
    removed from the question."""
    asker, other = TestClient(editorial.app, follow_redirects=False), TestClient(editorial.app)
    question = "Mr John Smith asks: how do I fix a flat bicycle tyre?"
    r = ask_form(asker, {"question": question})
    assert r.status_code == 303 and r.headers["location"].startswith("/answer?c=c-")
    assert "scrubbed=1" in r.headers["location"]
    shown = asker.get(r.headers["location"])
    assert shown.status_code == 200 and "not published as an article" in shown.text
    assert "they were removed before anything was stored" in shown.text and "Smith" not in shown.text
    assert other.get(r.headers["location"]).status_code == 404  # another browser, even with the address
    assert "Smith" not in _stored_text(editorial.data_dir)
