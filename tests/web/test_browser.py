"""What a person sees and does, in Debian's Chromium driven by Playwright, against a real uvicorn server.

Screenshots of the article page at desktop and phone widths go to test-artifacts/ (and of any failure, to
test-artifacts/failures/).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedside import Bedside
from bedside.config import load_settings

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
QUESTION = "What is the first-line treatment for community-acquired pneumonia?"


def ask(page: Any, base: str, question: str = QUESTION) -> None:
    page.goto(base + "/")
    page.get_by_label("Your clinical question").fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_url(re.compile(r"/articles/[^?]+\?c=c-"))


def cite_numbers(page: Any) -> list[str]:
    return [t.strip() for t in page.locator(".article-body .cite-link").all_inner_texts()]


def test_ask_and_read_a_cited_answer(page: Any, live: Any) -> None:
    server, _ = live
    ask(page, server.url)
    assert page.get_by_role("heading", level=1).inner_text().startswith("First-Line Treatment")
    assert page.get_by_text("Educational purpose only — content pending human review").is_visible()
    assert page.locator(".steps [aria-current=step]").inner_text().startswith("Submitted")
    bottom = page.locator(".bottom-line strong")
    assert bottom.is_visible() and bottom.locator(".cite-link").count() >= 1
    assert page.locator(".references li").count() >= 1
    assert page.locator(".references .ref-type").first.inner_text().strip().lower() == "guideline"
    assert page.js_errors == []


def test_hovering_a_citation_shows_its_source_passage(page: Any, live: Any) -> None:
    server, _ = live
    ask(page, server.url)
    slug = page.url.split("/articles/")[1].split("?")[0]
    answer = page.request.get(f"{server.url}/api/articles/{slug}").json()["answer"]
    statement = answer["bottom_line"][0]
    cite = page.locator(".bottom-line .cite").first
    pop = cite.locator(".source-pop")
    assert not pop.is_visible()
    cite.locator(".cite-link").hover()
    pop.wait_for(state="visible")
    box = pop.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280
    assert statement["text"][:40] in pop.inner_text()
    page.mouse.move(5, 5)
    pop.wait_for(state="hidden")
    cite.locator(".cite-link").focus()  # the keyboard shows it too
    pop.wait_for(state="visible")
    page.keyboard.press("Escape")


def test_screenshots_and_tapping_a_citation_on_a_phone(browser: Any, page: Any, live: Any) -> None:
    server, _ = live
    ask(page, server.url)
    url = page.url
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "article-desktop.png"), full_page=True)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    try:
        p = phone.new_page()
        p.goto(url)
        p.screenshot(path=str(ARTIFACTS / "article-phone.png"), full_page=True)
        width = p.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        link = p.locator(".bottom-line .cite-link").first
        link.tap()
        pop = p.locator(".bottom-line .cite").first.locator(".source-pop")
        pop.wait_for(state="visible")
        box = pop.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert p.url == url  # the first tap shows the source instead of jumping away
        p.wait_for_timeout(250)  # let the fade-in finish before the picture
        p.screenshot(path=str(ARTIFACTS / "article-phone-citation.png"))
    finally:
        phone.close()


def test_switching_reader_keeps_the_citation_numbers(page: Any, live: Any) -> None:
    server, _ = live
    ask(page, server.url)
    clinician = cite_numbers(page)
    page.get_by_label(re.compile("Patient or caregiver")).check()
    page.get_by_role("button", name="Show for this reader").click()
    page.wait_for_url(re.compile(r"audience=patient"))
    assert "for patients and caregivers" in page.locator(".kicker").inner_text().lower()
    assert page.locator(".disclaimer").inner_text().startswith("General information, not medical advice")
    patient = cite_numbers(page)  # a plainer selection of the same statements, numbered as the clinician's
    assert patient and not Counter(patient) - Counter(clinician)
    page.goto(page.url.split("?")[0])  # remembered
    assert page.get_by_label(re.compile("Patient or caregiver")).is_checked()
    page.context.clear_cookies()


def test_follow_up_continues_the_conversation(page: Any, live: Any) -> None:
    server, _ = live
    ask(page, server.url)
    first, conversation = page.url, page.url.split("?c=")[1]
    page.get_by_label("Ask a follow-up question").fill("What about in pregnancy?")
    page.get_by_role("button", name="Ask follow-up").click()
    page.wait_for_url(lambda url: url != first)
    assert page.url.endswith(f"?c={conversation}")
    assert QUESTION in page.locator(".trail").inner_text()
    assert page.locator(f"input[name=conversation][value='{conversation}']").count() == 1


def test_editorial_policy_sources_and_docs(page: Any, live: Any) -> None:
    server, _ = live
    ask(page, server.url)
    page.locator(".byline").get_by_role("link", name="Editorial policy").click()
    page.wait_for_url(re.compile(r"/policy$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Editorial policy"
    assert page.get_by_role("heading", name="Review status").is_visible()
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Sources").click()
    assert page.get_by_role("row", name=re.compile("Guideline")).count() >= 1
    page.goto(server.url + "/docs")
    page.get_by_role("navigation", name="Operations").get_by_role("link", name="POST /api/ask", exact=True).click()
    assert page.url.endswith("#post-api-ask")
    assert page.get_by_role("heading", name="POST /api/ask", exact=True).is_visible()
    assert page.js_errors == []


def test_hostile_passage_never_runs(page: Any, live_evil: Any) -> None:
    page.on("dialog", lambda d: pytest.fail(f"a dialog opened: {d.message}"))
    ask(page, live_evil.url, "How is an acute gout flare treated?")
    assert page.evaluate("window.pwned") is None
    assert "<img src=x onerror=alert(1)>" in page.locator(".article-body").inner_text()  # the title, as text
    page.locator(".cite-link").first.hover()
    assert page.evaluate("window.pwned") is None
    assert page.locator(".references a[href^='javascript']").count() == 0


@pytest.fixture(scope="module")
def live_evil(tmp_path_factory: pytest.TempPathFactory, app_factory: Any, live_server: Any) -> Iterator[Any]:
    """A server over a knowledge base holding one hostile document."""
    root = tmp_path_factory.mktemp("evil-live")
    record = {
        "id": "evil1",
        "title": "Acute gout <img src=x onerror=alert(1)> guide",
        "type": "guideline",
        "year": 2024,
        "text": "Colchicine 500 micrograms twice daily treats an acute gout flare in adults. "
        "<script>window.pwned=1</script> Naproxen 500 mg twice daily treats an acute gout flare in adults "
        "without kidney disease. <img src=x onerror=window.pwned=2> Prednisolone 30 mg daily for 5 days "
        "treats an acute gout flare when colchicine cannot be used.",
        "url": "javascript:alert(1)",
    }
    (root / "evil.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    with Bedside(settings=load_settings(data_dir=root / "data", starter_kb=False, embedder="hashing")) as b:
        b.ingest([root / "evil.jsonl"])
    app, _ = app_factory(root / "data", starter_kb=False)
    with live_server(app) as server:
        yield server


def test_with_an_llm_the_draft_streams_then_the_verified_answer_opens(
    page: Any, web_data: Path, llm_url: str, fake_llm: Any, app_factory: Any, live_server: Any
) -> None:
    app, _ = app_factory(web_data, llm_base_url=llm_url, llm_model="fake", llm_timeout=10)
    seen: list[str] = []
    page.on("console", lambda msg: seen.append(msg.text) if msg.text.startswith("draft:") else None)
    page.add_init_script(DRAFT_WATCH)  # the draft lasts only until the page moves on: record it as it appears
    fake_llm.delay = 0.05
    try:
        with live_server(app) as server:
            page.goto(server.url + "/")
            page.get_by_label("Your clinical question").fill("How is iron deficiency anaemia treated?")
            page.get_by_role("button", name="Ask", exact=True).click()
            page.wait_for_url(re.compile(r"/articles/[^?]+\?c=c-"))
            page.locator(".bottom-line").wait_for()
            drafted = [t.removeprefix("draft: ") for t in seen]
            assert len(drafted) == 2, seen
            assert drafted[0] in page.locator(".bottom-line").inner_text()  # the verified answer kept it
            assert page.js_errors == []
    finally:
        fake_llm.delay = 0.0


DRAFT_WATCH = """
new MutationObserver(function (mutations) {
  mutations.forEach(function (m) {
    m.addedNodes.forEach(function (n) {
      if (n.tagName === "LI" && n.parentElement && n.parentElement.classList.contains("draft-list")) {
        console.log("draft: " + n.textContent);
      }
    });
  });
}).observe(document, { childList: true, subtree: true });
"""
