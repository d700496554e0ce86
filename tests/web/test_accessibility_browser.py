"""Every page type in Chromium: axe-core finds no violation at phone and desktop widths, no page scrolls sideways
from 320 to 1920 px or at 200% zoom, Escape closes a citation's source however it was opened, citation chips are
at least 24 px, and responses are compressed and cached as they should be.

axe-core is vendored under tests/web/vendor (tests only); it is injected with the page's CSP bypassed for the test
context alone, since the app's policy rightly refuses inline script.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from editorial_support import PASSWORD, Editorial

from bedside.web.deps import CLIENT_COOKIE

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
QUESTION = "What is the first-line treatment for community-acquired pneumonia?"
OFF_TOPIC = "How do I fix a flat bicycle tyre?"
WIDTHS = (320, 390, 683, 720, 768, 1024, 1366, 1920)


class Site:
    """A live editorial app with one article of each kind, and the address of every page type."""

    def __init__(self, server: Any, e: Editorial, slug: str, document_id: str, conversation: str, client: str) -> None:
        self.server, self.e, self.slug = server, e, slug
        self.client = client  # the client cookie of whoever asked: an unpublished answer is theirs alone
        self.public = {
            "home": "/",
            "article": f"/articles/{slug}",
            "article-patient": f"/articles/{slug}?audience=patient",
            "unpublished answer": f"/answer?c={conversation}",
            "search": "/search?q=pneumonia",
            "sources": "/sources",
            "policy": "/policy",
            "board": "/board",
            "api reference": "/docs",
            "sign-in": "/login",
            "not found": "/articles/no-such-article",
        }
        self.staff = {
            "review queue": "/review",
            "review article": f"/review/{slug}",
            "edit form": f"/review/{slug}/edit",
            "source document": f"/review/source?doc={document_id}&start=0&end=40",
            "users": "/admin/users",
        }


@pytest.fixture(scope="module")
def site(editorial_factory: Any, live_server: Any) -> Iterator[Site]:
    e: Editorial = editorial_factory()
    with live_server(e.app) as server:
        body = httpx.post(server.url + "/api/ask", json={"question": QUESTION}, timeout=120).json()
        off = httpx.post(server.url + "/api/ask", json={"question": OFF_TOPIC}, timeout=120)
        e.articles.set_profile(e.email("reviewer"), "Dr Rita Reyes", "MD", "St Elsewhere Hospital")
        document_id = body["references"][0]["document_id"]
        client = off.cookies[CLIENT_COOKIE]
        yield Site(server, e, body["slug"], document_id, off.json()["conversation"], client)


def as_the_asker(context: Any, site: Site) -> Any:
    """The browser context with the asker's client cookie, so that it may open their unpublished answer."""
    context.add_cookies([{"name": CLIENT_COOKIE, "value": site.client, "url": site.server.url}])
    return context


def sign_in(page: Any, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/review$"))


def violations(page: Any) -> list[str]:
    """axe-core's violations on the page as "rule: target (summary)" lines."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [f"{v['id']}: {n['target']} ({n.get('failureSummary', '')[:160]})" for v in found for n in v["nodes"]]


@pytest.mark.parametrize("width", [390, 1366])
def test_no_page_type_has_an_axe_violation(browser: Any, site: Site, width: int) -> None:
    context = as_the_asker(browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True), site)
    try:
        page = context.new_page()
        problems = {}
        for name, path in site.public.items():
            response = page.goto(site.server.url + path)
            assert response.status == (404 if name == "not found" else 200), (name, response.status)
            problems[name] = violations(page)
        sign_in(page, site.server.url, site.e.email("admin"))
        for name, path in site.staff.items():
            response = page.goto(site.server.url + path)
            assert response.status == 200 and "/login" not in page.url, (name, response.status)
            problems[name] = violations(page)
        bad = {name: found for name, found in problems.items() if found}
        assert bad == {}, bad
        assert set(problems) == set(site.public) | set(site.staff)
    finally:
        context.close()


def test_no_page_scrolls_sideways_from_320_to_1920_px_or_at_200_percent_zoom(browser: Any, site: Site) -> None:
    # 200% zoom of a 1280 px window lays the page out in 640 CSS px, as a 640 px viewport does
    sizes = [(w, 900) for w in WIDTHS] + [(640, 450)]
    paths = [site.public["article"], site.public["home"], site.public["api reference"], site.public["policy"]]
    staff = [site.staff["review article"], site.staff["users"]]
    context = browser.new_context()
    try:
        page = context.new_page()
        wide = []
        for width, height in sizes:
            page.set_viewport_size({"width": width, "height": height})
            for path in paths:
                page.goto(site.server.url + path)
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > width:
                    wide.append((path, width, scroll))
        sign_in(page, site.server.url, site.e.email("admin"))
        for width, height in sizes:
            page.set_viewport_size({"width": width, "height": height})
            for path in staff:
                page.goto(site.server.url + path)
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > width:
                    wide.append((path, width, scroll))
        assert wide == [], wide
    finally:
        context.close()


def test_escape_closes_a_citation_however_it_was_opened_and_chips_are_24_px(page: Any, site: Site) -> None:
    page.goto(site.server.url + site.public["article"])
    cite = page.locator(".bottom-line .cite").first
    link, pop = cite.locator(".cite-link"), cite.locator(".source-pop")
    box = link.bounding_box()
    assert box is not None and box["width"] >= 24 and box["height"] >= 24, box
    link.hover()  # by hovering
    pop.wait_for(state="visible")
    page.keyboard.press("Escape")
    pop.wait_for(state="hidden")
    page.mouse.move(1, 1)
    link.hover()  # it opens again once the pointer comes back
    pop.wait_for(state="visible")
    page.mouse.move(1, 1)
    pop.wait_for(state="hidden")
    link.focus()  # by the keyboard
    pop.wait_for(state="visible")
    page.keyboard.press("Escape")
    pop.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.classList.contains('cite-link')")  # focus stays where it was
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    pop.wait_for(state="visible")
    page.mouse.move(1, 1)
    link.click()  # pinned open by a click
    page.keyboard.press("Escape")
    pop.wait_for(state="hidden")
    assert page.js_errors == []


def test_the_article_reads_as_a_publication_and_is_served_compressed(page: Any, site: Site) -> None:
    page.goto(site.server.url + site.public["article"])
    byline = page.locator(".byline").inner_text()
    assert re.search(
        r"Last updated \d{1,2} (January|February|March|April|May|June|July|August|September|October|"
        r"November|December) \d{4}",
        byline,
    ), byline
    reference = page.locator(".references li").first.inner_text()
    assert reference.lower().startswith("guideline") and "bedside digest of" in reference
    assert "not yet reviewed by the Medical Advisory Board" in reference
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "article-sources.png"), full_page=True)
    html = page.request.get(site.server.url + site.public["article"], headers={"Accept-Encoding": "gzip"})
    assert html.headers.get("content-encoding") == "gzip"
    css = page.locator("link[rel=stylesheet]").get_attribute("href")
    assert css is not None and "?v=" in css
    styles = page.request.get(site.server.url + css)
    assert styles.headers["cache-control"] == "public, max-age=31536000, immutable"
    stale = page.request.get(site.server.url + css.split("?")[0])
    assert "immutable" not in stale.headers["cache-control"]  # no fingerprint, no year-long cache
    page.goto(site.server.url + "/login")
    assert "bedside users" not in page.locator("main").inner_text()  # no operator commands for the public
