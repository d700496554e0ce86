"""The whole review loop in Chromium against a real uvicorn server and the SQL article service: a question is
asked, a reviewer claims the article and requests changes, an editor rewrites a statement, the reviewer approves,
and the public page shows who approved it and when.

Screenshots of the reviewer's dashboard, the article under review and the approved article go to test-artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from editorial_support import PASSWORD, Editorial

from bedside.web.app import human_date

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
QUESTION = "What is the first-line treatment for community-acquired pneumonia?"
BANNER = "Educational purpose only — content pending human review"
# A wrong dose that no source states: the verifier flags it, and approving it needs the recorded override.
EDITED = "Give amoxicillin 7 g every hour to adults with community-acquired pneumonia."


def sign_in(page: Any, base: str, path: str, email: str) -> None:
    """Open `path`, sign in on the page it redirects to, and come back to `path`."""
    page.goto(base + path)
    page.wait_for_url(re.compile(r"/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + path)


def test_ask_review_edit_approve_in_a_browser(
    browser: Any, page: Any, live_server: Any, editorial_factory: Any
) -> None:
    e: Editorial = editorial_factory()
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(2)]
    reviewer, editor = (c.new_page() for c in contexts)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with live_server(e.app) as server:
            base = server.url
            # A reader asks: the new article is submitted, under the pending-review banner.
            page.goto(base + "/")
            page.get_by_label("Your clinical question").fill(QUESTION)
            page.get_by_role("button", name="Ask", exact=True).click()
            page.wait_for_url(re.compile(r"/articles/[^?]+\?c=c-"))
            slug = page.url.split("/articles/")[1].split("?")[0]
            title = page.get_by_role("heading", level=1).inner_text()
            assert page.get_by_text(BANNER).is_visible()
            assert page.locator(".steps [aria-current=step]").inner_text().startswith("Submitted")

            # The reviewer signs in, finds it at the top of the queue, claims it and asks for changes.
            sign_in(reviewer, base, "/review", e.email("reviewer"))
            first = reviewer.locator("#q-submitted tbody tr").first
            assert first.locator(".queue-title").inner_text() == title
            reviewer.screenshot(path=str(ARTIFACTS / "review-dashboard.png"), full_page=True)
            reviewer.get_by_role("button", name=f"Claim: {title}").click()
            reviewer.wait_for_url(f"{base}/review/{slug}?done=claim")
            assert "You claimed this article" in reviewer.get_by_role("status").inner_text()
            quote = reviewer.locator(".sbs .passage mark.cited").first.inner_text()
            assert len(quote) > 20  # the cited passage's own text beside the statement
            reviewer.get_by_label(re.compile(r"^What should change\? \(required")).fill(
                "Name the first-line antibiotic."
            )
            reviewer.get_by_role("button", name="Request changes").click()
            reviewer.wait_for_url(f"{base}/review/{slug}?done=request_changes")
            assert reviewer.locator(".review-head .badge").inner_text() == "Changes requested"

            # The editor signs in and rewrites the first bottom-line statement; it keeps its citations.
            sign_in(editor, base, f"/review/{slug}/edit", e.email("editor"))
            statement = editor.locator("#text-bl-0")
            statement.fill(EDITED)
            editor.get_by_role("button", name=re.compile(r"Save version 2")).click()
            editor.wait_for_url(f"{base}/review/{slug}?done=edit")
            assert editor.locator(".review-head .badge").inner_text() == "Submitted"

            # The reviewer sees the change, claims the new version and approves it.
            reviewer.goto(f"{base}/review/{slug}")
            assert EDITED.split()[0] in reviewer.locator(".diff ins").first.inner_text()
            assert "Name the first-line antibiotic." in reviewer.locator(".history").inner_text()
            reviewer.get_by_role("button", name="Claim", exact=True).click()
            reviewer.wait_for_url(f"{base}/review/{slug}?done=claim")
            flagged = reviewer.locator(".sbs-unsupported")
            assert flagged.count() == 1 and "NOT found in its cited source" in flagged.inner_text()
            assert reviewer.locator("#unsupported-warning").is_visible()
            reviewer.get_by_label("Reason for the override (required)").fill("Dose checked with pharmacy.")
            reviewer.get_by_role("button", name="Approve version 2").click()  # the override is not ticked yet
            assert reviewer.url.endswith(f"/review/{slug}?done=claim")  # the browser refuses the form
            reviewer.get_by_label(re.compile("approve it anyway")).check()
            reviewer.get_by_role("button", name="Approve version 2").click()  # not yet confirmed either
            assert reviewer.url.endswith(f"/review/{slug}?done=claim")
            reviewer.get_by_label(re.compile("I have checked every statement of version 2")).check()
            reviewer.get_by_role("button", name="Approve version 2").click()
            reviewer.wait_for_url(f"{base}/review/{slug}?done=approve")
            assert "override: approved with 1 editor statement" in reviewer.locator(".history").inner_text()
            assert reviewer.locator(".review-head .badge").inner_text() == "Approved"
            reviewer.screenshot(path=str(ARTIFACTS / "review-article.png"), full_page=True)

            # The public page: approved, by whom and when, the edited text, and no banner.
            approved_on = human_date(e.articles.get(slug).approved_at)  # "6 December 2026"
            assert re.fullmatch(r"\d{1,2} [A-Z][a-z]+ \d{4}", approved_on)
            page.reload()
            byline = page.locator(".byline").inner_text()
            assert f"Approved by a member of the Medical Advisory Board on {approved_on}" in byline  # no profile yet
            e.articles.set_profile(e.email("reviewer"), "Dr Rita Reyes", "MD", "St Elsewhere Hospital")
            page.reload()
            byline = page.locator(".byline").inner_text()
            assert f"Approved by Dr Rita Reyes, MD on {approved_on}" in byline and e.email("reviewer") not in byline
            page.locator(".byline").get_by_role("link", name="Dr Rita Reyes, MD").click()
            page.wait_for_url(re.compile(r"/board$"))
            assert "St Elsewhere Hospital" in page.locator("main").inner_text()
            page.go_back()
            assert f"Last updated {approved_on}" in byline and "Status: Approved" in byline
            assert page.get_by_text(BANNER).count() == 0
            assert EDITED in page.locator(".bottom-line").inner_text()
            mark = page.locator(".bottom-line .editor-mark").first.inner_text()
            assert mark.startswith("Editor's statement (not found in the cited source")
            assert all(s.get_attribute("class").find("step-done") >= 0 for s in page.locator(".steps .step").all())
            page.screenshot(path=str(ARTIFACTS / "article-approved.png"), full_page=True)
            assert page.js_errors == []
    except Exception:
        (ARTIFACTS / "failures").mkdir(parents=True, exist_ok=True)
        for name, p in (("reviewer", reviewer), ("editor", editor)):
            p.screenshot(path=str(ARTIFACTS / "failures" / f"review-loop-{name}.png"), full_page=True)
        raise
    finally:
        for c in contexts:
            c.close()


def test_the_review_desk_and_the_article_on_a_phone(browser: Any, live_server: Any, editorial_factory: Any) -> None:
    e: Editorial = editorial_factory()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        p = phone.new_page()
        with live_server(e.app) as server:
            base = server.url
            p.goto(base + "/")
            p.get_by_label("Your clinical question").fill(QUESTION)
            p.get_by_role("button", name="Ask", exact=True).click()
            p.wait_for_url(re.compile(r"/articles/[^?]+\?c=c-"))
            slug = p.url.split("/articles/")[1].split("?")[0]
            bottom = p.locator(".bottom-line").bounding_box()
            assert bottom is not None and bottom["y"] < 844, "the answer starts on the first screen"
            sign_in(p, base, f"/review/{slug}", e.email("reviewer"))
            assert p.evaluate("document.documentElement.scrollWidth") <= 390
            cell = p.locator(".sbs td.sbs-sources").first
            assert cell.evaluate("el => getComputedStyle(el).display") == "block"  # the table stacks
            statement = p.locator(".sbs td.sbs-statement").first.bounding_box()
            assert statement is not None and cell.bounding_box()["y"] > statement["y"]  # sources below
            p.get_by_role("link", name="Go to your actions").click()
            claim = p.get_by_role("button", name="Claim", exact=True)
            box = claim.bounding_box()
            assert box is not None and 0 <= box["y"] < 844, "the actions are one tap away"
            p.screenshot(path=str(ARTIFACTS / "review-phone.png"))
    finally:
        phone.close()
