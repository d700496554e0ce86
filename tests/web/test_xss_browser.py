"""Rendering safety in Chromium: the payload corpus planted in the knowledge base, questions, follow-ups, an editor's
edits, a reviewer's comment and a streamed LLM answer, against a real uvicorn server.

On every page: no script runs (no dialog; `window.__pwned` is a trap that reports any write), no request leaves the
test server's origin (every request is routed and recorded; others are aborted and fail the test), and nothing
active is rendered from content (links are http(s), no off-origin src/action, no frames, objects or handlers). CSP
violations are counted as blocked attempts, not failures: the DOM audit already fails on any smuggled markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from http.server import ThreadingHTTPServer
from threading import Thread
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from editorial_support import PASSWORD, Editorial, make_editorial
from xss_payloads import corpus
from xss_support import QUESTIONS, HostileLlm, build_hostile_kb, hostile_records, missing, normal, pack

from bedside.config import load_settings
from bedside.web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CORPUS = corpus()
PROBE_JS = """(() => {
  const report = (kind, value) => console.log("XSS-PROBE " + kind + " " + value);
  Object.defineProperty(window, "__pwned", {configurable: false, get() { return undefined; },
                                            set(v) { report("pwned", v); }});
  document.addEventListener("securitypolicyviolation", e => report("csp", e.violatedDirective + " " + e.blockedURI));
})();"""
AUDIT_JS = """() => {
  const out = [], origin = location.origin, off = v => new URL(v, location.href).origin !== origin;
  const never = "iframe,frame,object,embed,applet,base,svg,math,style,video,audio,source,img,portal,marquee,template";
  document.querySelectorAll(never + ",body meta,body link,body title").forEach(e => out.push("element " + e.tagName));
  document.querySelectorAll("script").forEach(e => { if (!e.src || off(e.src)) out.push("script " + e.outerHTML); });
  document.querySelectorAll("*").forEach(e => { for (const a of e.attributes)
    if (a.name.startsWith("on") || a.name === "srcdoc") out.push("attribute " + e.tagName + " " + a.name); });
  document.querySelectorAll("a[href], area[href]").forEach(a => {
    if (!["http:", "https:"].includes(new URL(a.href, location.href).protocol)) out.push("link " + a.href); });
  document.querySelectorAll("[src],[action],[formaction],[data],[poster],[background],[srcset]").forEach(e => {
    for (const n of ["src", "action", "formaction", "data", "poster", "background", "srcset"]) {
      const v = e.getAttribute(n); if (v !== null && (n === "srcset" || off(v))) out.push(n + " " + v); } });
  document.querySelectorAll("main [style]").forEach(e => {
    if (/url\\(/i.test(e.getAttribute("style"))) out.push("style " + e.getAttribute("style")); });
  const values = [...document.querySelectorAll("input, textarea")].map(e => e.value);
  return {problems: out, text: [document.title, document.body.textContent, ...values].join("\\n")};
}"""


class Watch:
    """A browser context whose requests, dialogs, probe reports, CSP violations and page errors are all recorded."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base, self.host = base, urlsplit(base).netloc
        self.requests: list[str] = []
        self.offsite: list[str] = []
        self.dialogs: list[str] = []
        self.probes: list[str] = []
        self.csp: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.add_init_script(PROBE_JS)
        self.context.route("**/*", self._route)
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page = self.context.new_page()
        self.page.on("dialog", self._dialog)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _route(self, route: Any) -> None:
        parts = urlsplit(route.request.url)
        if parts.scheme not in ("http", "https") or parts.netloc != self.host:
            self.offsite.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, msg: Any) -> None:
        if msg.text.startswith("XSS-PROBE csp"):
            self.csp.append(msg.text)
        elif msg.text.startswith("XSS-PROBE"):
            self.probes.append(msg.text)
        elif msg.type == "error" and "Content Security Policy" in msg.text:
            self.csp.append(msg.text)
        elif msg.type == "error":
            self.errors.append(msg.text)

    def audit(self, planted: Sequence[str] = ()) -> str:
        """The page's shown text, after asserting that nothing ran, left the origin or became active."""
        found = self.page.evaluate(AUDIT_JS)
        assert found["problems"] == [], (self.page.url, found["problems"][:5])
        self.assert_quiet()
        shown = normal(found["text"])
        assert missing(planted, shown) == [], self.page.url
        return shown

    def assert_quiet(self) -> None:
        assert self.dialogs == [] and self.probes == [], (self.dialogs, self.probes)
        assert self.offsite == [] and all(urlsplit(u).netloc == self.host for u in self.requests), self.offsite
        assert self.errors == [], (self.errors, f"{len(self.csp)} CSP violations: {self.csp[:3]}")

    def sign_in(self, path: str, email: str) -> None:
        self.page.goto(self.base + path)
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(self.base + path)


def planted_in(shown: str) -> list[str]:
    return [p.text for p in CORPUS if normal(p.text) in shown]


@pytest.fixture(scope="module")
def desk_server(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Editorial, str]]:
    """The editorial app over the hostile knowledge base, served by uvicorn."""
    e = make_editorial(build_hostile_kb(tmp_path_factory.mktemp("xss-browser")), starter_kb=False)
    with live_server(e.app) as server:
        yield e, server.url
    e.articles.close()


@pytest.fixture
def watch(browser: Any, desk_server: tuple[Editorial, str]) -> Iterator[Watch]:
    w = Watch(browser, desk_server[1])
    yield w
    w.context.close()


def test_public_pages_ask_and_follow_up(watch: Watch) -> None:
    page, questions = watch.page, pack(CORPUS[:160], QUESTIONS[0], 1900)
    page.goto(watch.base + "/")
    page.get_by_label("Your clinical question").fill(questions[0])
    page.get_by_role("button", name="Ask", exact=True).click()
    page.wait_for_url(re.compile(r"/articles/[^?]+\?c=c-"))
    assert len(planted_in(watch.audit())) >= 10  # the knowledge base's payloads reached the answer
    page.locator(".article-body .cite-link").first.click()  # pins a source popover open (bedside.js)
    for q in questions[1:]:
        page.get_by_label("Ask a follow-up question").fill(q)
        page.get_by_role("button", name="Ask follow-up").click()
        page.wait_for_url(re.compile(r"/articles/[^?]+\?c=c-"))
        page.wait_for_load_state()
    watch.audit(questions[:-1])  # the trail of earlier questions
    for q in pack(CORPUS[160:200], "gout", 500):
        page.goto(f"{watch.base}/search?q={quote(q, safe='')}")
        watch.audit([q])
    for path in ("/search", "/", "/sources"):
        page.goto(watch.base + path)
        watch.audit()
    sources = [r["source"] for r in hostile_records(CORPUS)]
    assert len([s for s in sources if normal(s) in watch.audit()]) >= 20


def test_reviewer_pages_comment_and_edit(browser: Any, watch: Watch, desk_server: tuple[Editorial, str]) -> None:
    e, base = desk_server
    slug = str(watch.page.request.post(base + "/api/ask", data={"question": QUESTIONS[1]}).json()["slug"])
    comment = " ".join(p.text for p in CORPUS[200:300])
    watch.sign_in("/review", e.email("reviewer"))
    watch.audit()
    watch.page.goto(f"{base}/review/{slug}")
    watch.page.get_by_role("button", name="Claim").click()
    watch.page.wait_for_url(f"{base}/review/{slug}?done=claim")
    watch.page.get_by_label(re.compile(r"^What should change\? \(required")).fill(comment)
    watch.page.get_by_role("button", name="Request changes").click()
    watch.page.wait_for_url(f"{base}/review/{slug}?done=request_changes")
    watch.audit([comment])

    editor = Watch(browser, base)
    try:
        editor.sign_in(f"/review/{slug}/edit", e.email("editor"))
        editor.audit()
        boxes = editor.page.locator("textarea[name^='text:']")
        texts = pack(CORPUS, "Colchicine treats an acute gout flare.", 4_900)
        texts = (texts * (1 + boxes.count() // len(texts)))[: boxes.count()]
        for i, text in enumerate(texts):
            boxes.nth(i).fill(text)
        editor.page.get_by_label("Title", exact=True).fill(CORPUS[0].text + " " + CORPUS[1].text)
        editor.page.get_by_role("button", name=re.compile(r"Save version 2")).click()
        editor.page.wait_for_url(f"{base}/review/{slug}?done=edit")
        shown = editor.audit(texts)  # statements, their diff against version 1, and the history
        assert len(planted_in(shown)) == len(CORPUS)
        editor.page.goto(f"{base}/articles/{slug}")
        editor.audit(texts)
    finally:
        editor.context.close()


@pytest.fixture(scope="module")
def llm_server(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An app over a fresh hostile knowledge base whose LLM endpoint streams hostile drafts."""
    llm = ThreadingHTTPServer(("127.0.0.1", 0), HostileLlm)
    Thread(target=llm.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    data = build_hostile_kb(tmp_path_factory.mktemp("xss-browser-llm"))
    url = f"http://127.0.0.1:{llm.server_address[1]}/v1"
    settings = load_settings(data_dir=data, embedder="hashing", starter_kb=False, llm_base_url=url, llm_model="evil")
    with live_server(create_app(settings)) as server:
        yield server.url
    llm.shutdown()
    llm.server_close()


def test_streamed_llm_draft_and_answer(browser: Any, llm_server: str) -> None:
    w = Watch(browser, llm_server)
    done: list[dict[str, Any]] = []

    def hold_back_done(route: Any) -> None:
        """Pass the stream on without its final event, so the draft list stays on the page to be audited."""
        body = route.fetch().text()
        blocks = body.split("\n\n")
        done.extend(json.loads(b.split("data: ", 1)[1]) for b in blocks if b.startswith("event: done"))
        route.fulfill(
            status=200,
            content_type="text/event-stream",
            body="\n\n".join(b for b in blocks if not b.startswith("event: done")),
        )

    try:
        w.page.route("**/api/ask/stream", hold_back_done)
        w.page.goto(llm_server + "/")
        w.page.get_by_label("Your clinical question").fill(QUESTIONS[2])
        w.page.get_by_role("button", name="Ask", exact=True).click()
        w.page.locator(".draft-error").wait_for()
        shown = w.audit()
        assert w.page.locator(".draft-list li").count() >= 5 and len(planted_in(shown)) >= 5
        w.page.goto(llm_server + done[0]["url"])
        assert len(planted_in(w.audit([done[0]["title"]]))) >= 10
    finally:
        w.context.close()
