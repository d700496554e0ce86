"""Planting the payload corpus (a hostile knowledge base, a hostile LLM endpoint) and auditing what the app renders.

`audit_html` is the non-browser judge: it parses a page with the standard library and names every element,
attribute or URL that content could have smuggled in. `shown_text` is what a reader would see (text nodes and
attribute values, character references decoded), so a payload that round-trips as text is found in it verbatim.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from xss_payloads import Payload, corpus, hostile_urls

from bedside import Bedside
from bedside.config import load_settings
from chat_replies import send_chat_reply

TOPIC = "acute gout flare"
QUESTIONS = (
    "How is an acute gout flare treated?",
    "What is the role of colchicine in an acute gout flare?",
    "Naproxen for an acute gout flare in adults",
    "When is prednisolone used for an acute gout flare?",
    "How do ice and rest help an acute gout flare?",
    "Which drugs treat an acute gout flare?",
    "Acute gout flare in adults with kidney disease",
    "Acute gout flare when colchicine cannot be used",
    "Drug treatment of an acute gout flare within a day",
    "Pain relief with naproxen in an acute gout flare",
    "Prednisolone or colchicine for an acute gout flare?",
    "Ice and rest alongside drug treatment of an acute gout flare",
    "Colchicine started within a day for an acute gout flare",
    "Naproxen in adults without kidney disease with an acute gout flare",
    "Treating an acute gout flare when colchicine cannot be used",
    "Is colchicine started within a day effective for an acute gout flare in adults?",
    "Does naproxen relieve acute gout flare pain in adults without kidney disease?",
    "Can prednisolone treat an acute gout flare when colchicine cannot be used?",
    "Do ice and rest ease an acute gout flare alongside drug treatment?",
    "Colchicine for an acute gout flare in adults",
    "Naproxen for the pain of an acute gout flare",
    "Prednisolone for an acute gout flare",
    "Ice and rest for an acute gout flare",
)
CARRIERS = (
    "Colchicine treats an acute gout flare in adults {p} when started within a day.",
    "Naproxen relieves the pain of an acute gout flare {p} in adults without kidney disease.",
    "Prednisolone treats an acute gout flare {p} when colchicine cannot be used.",
    "Ice and rest ease an acute gout flare {p} alongside drug treatment.",
)
PER_DOCUMENT = 4  # payloads in each document's text


def normal(text: str) -> str:
    """Whitespace folded the way the composers fold it."""
    return " ".join(text.split())


def hostile_records(payloads: list[Payload]) -> list[dict[str, Any]]:
    """JSONL records on one topic: every payload in some document's text, title, source and authors."""
    urls, records = hostile_urls(), []
    for d, start in enumerate(range(0, len(payloads), PER_DOCUMENT)):
        chunk = payloads[start : start + PER_DOCUMENT]
        pick = [payloads[(start + k) % len(payloads)].text for k in range(3)]
        records.append(
            {
                "id": f"hostile-{d}",
                "type": "guideline",
                "year": 2024,
                "url": urls[d % len(urls)],
                "title": f"Acute gout flare guide {pick[0]}",
                "source": f"Society {pick[1]}",
                "authors": [pick[2]],
                "text": " ".join(CARRIERS[(start + i) % len(CARRIERS)].format(p=p.text) for i, p in enumerate(chunk)),
            }
        )
    return records


def build_hostile_kb(root: Path) -> Path:
    """A data directory holding only the hostile documents; returns it."""
    lines = "\n".join(json.dumps(r) for r in hostile_records(corpus()))
    (root / "hostile.jsonl").write_text(lines + "\n", encoding="utf-8")
    with Bedside(settings=load_settings(data_dir=root / "data", starter_kb=False, embedder="hashing")) as b:
        report = b.ingest([root / "hostile.jsonl"])
        assert not report.failed and report.added == len(lines.splitlines()), report
    return root / "data"


# -- a scripted LLM that repeats the passages' hostile sentences, and adds payloads to its title and headings -----

PASSAGE = re.compile(r"<<<PASSAGE (\d+)>>>.*?\nText:\n(.*?)\n<<<END PASSAGE \1>>>", re.S)
SENTENCE = re.compile(r"[^.]*?acute gout flare.*?(?:within a day|kidney disease|cannot be used|drug treatment)\.")


def hostile_draft(prompt: str) -> dict[str, Any]:
    """A draft quoting, with citations, every carrier sentence it can find in the passages."""
    found = [(int(n), normal(s)) for n, text in PASSAGE.findall(prompt) for s in SENTENCE.findall(text)]
    head = [p.text for p in corpus()[:6]]
    statements = [{"text": s, "passages": [n]} for n, s in found]
    return {
        "title": f"Acute gout flare {head[0]} {head[1]}",
        "bottom_line": statements[:2],
        "sections": [
            {"heading": f"Acute gout flare treatment {head[2 + i]}", "statements": statements[2 + i :: 3]}
            for i in range(3)
        ],
    }


class HostileLlm(BaseHTTPRequestHandler):
    """POST /v1/chat/completions: a non-streamed or streamed hostile draft, as the request asks."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        content = json.dumps(hostile_draft("\n".join(m["content"] for m in request["messages"])))
        send_chat_reply(self, request, content, chunk=200)


# -- judging a page --------------------------------------------------------------------------------------------------

NEVER = {
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "base",
    "svg",
    "math",
    "style",
    "video",
    "audio",
    "source",
    "track",
    "img",
    "picture",
    "portal",
    "noscript",
    "template",
    "marquee",
}
HEAD_ONLY = {"meta", "link", "title"}
URL_ATTRS = {"src", "srcset", "action", "formaction", "data", "poster", "background", "xlink:href", "ping", "href"}
LOCAL = re.compile(r"^(?:/(?![/\\])|#|\?)")  # same-origin: a path, a fragment or a query, never //host
WEB = re.compile(r"^https?://[^/\\\s]", re.I)


class _Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.strings: list[str] = []
        self.in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_head = self.in_head or tag == "head"
        if tag == "body":
            self.in_head = False
        if tag in NEVER or (tag in HEAD_ONLY and not self.in_head):
            self.problems.append(f"<{tag}> rendered")
        if tag == "script" and not str(dict(attrs).get("src") or "").startswith("/static/"):
            self.problems.append(f"<script {attrs}> rendered")
        for name, value in attrs:
            value = value or ""
            self.strings.append(value)
            self._attribute(tag, name, value)

    def _attribute(self, tag: str, name: str, value: str) -> None:
        if name.startswith("on") or name == "style" or name == "srcdoc":
            self.problems.append(f"<{tag} {name}=…> rendered")
        web_link = tag == "a" and name == "href" and WEB.match(value)
        if name in URL_ATTRS and not LOCAL.match(value) and value.strip() and not web_link:
            self.problems.append(f"<{tag} {name}={value!r}> leaves the origin or is not a web link")

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self.in_head = False

    def handle_data(self, data: str) -> None:
        self.strings.append(data)


def audit_html(html: str) -> tuple[list[str], str]:
    """(problems found, the page's shown text with whitespace folded)."""
    parser = _Audit()
    parser.feed(html)
    parser.close()
    return parser.problems, normal(" \x00 ".join(parser.strings))


def pack(payloads: Sequence[Payload], lead: str, limit: int) -> list[str]:
    """`lead` followed by as many payloads as fit in `limit` characters, until every payload is used."""
    out, current = [], lead
    for p in payloads:
        if len(current) + 1 + len(p.text) > limit:
            out.append(current)
            current = lead
        current += " " + p.text
    return [*out, current]


def missing(payloads: Iterable[str], shown: str) -> list[str]:
    """The payloads (whitespace folded) that do not appear verbatim in `shown`."""
    return [p for p in payloads if normal(p) not in shown]
