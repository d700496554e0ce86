"""Markdown source that a rendered page never shows: HTML comments, script and style bodies, hidden HTML
elements (by attribute, style attribute or a <style> rule in the file) and link reference definitions.

Fenced code blocks are shown as written, so they are left alone.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree

from bedside.ingest.builder import clean_text
from bedside.ingest.visibility import Context, PageStyle

_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)", re.M)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_RAW = re.compile(
    r"<(script|style|noscript|template|textarea|iframe|object|title|head)\b[^>]*>(.*?)(?:</\1\s*>|\Z)", re.S | re.I
)
# [label]: destination "optional title" (CommonMark): never rendered; `[//]: # (text)` is a common comment idiom.
_LINK_DEFINITION = re.compile(
    r"""^[ ]{0,3}\[[^\]\n]+\]:[ \t]*(?:<[^>\n]*>|\S+)(?:[ \t]*\n?[ \t]+("[^"\n]*"|'[^'\n]*'|\(.*\)))?[ \t]*$""",
    re.M,
)
_OPEN_TAG = re.compile(r"<([a-zA-Z][\w-]*)(\s[^<>]*?)?(/?)>")
_VOID = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr", "source", "track", "area", "col", "embed"})


def strip_hidden(body: str, hidden: dict[str, int]) -> str:
    """The body without what a Markdown renderer hides; what held text is counted in `hidden` by reason."""
    pieces = _FENCE.split(body)
    # split() with one group alternates text, fence marker, text ...; a fence opens and closes with the same marker.
    out: list[str] = []
    style = PageStyle(m.group(2) for m in _RAW.finditer(_COMMENT.sub("", body)) if m.group(1).lower() == "style")
    inside = False
    for i, piece in enumerate(pieces):
        if i % 2:
            out.append(piece)
            inside = not inside
        elif inside:
            out.append(piece)
        else:
            out.append(_strip(piece, hidden, style))
    return "".join(out)


def _strip(text: str, hidden: dict[str, int], style: PageStyle) -> str:
    text = _COMMENT.sub(lambda m: _removed(m.group(0)[4:], "HTML comment", hidden, m.group(0)), text)
    text = _RAW.sub(lambda m: _removed(m.group(2), _raw_reason(m.group(1)), hidden, m.group(0)), text)
    text = _LINK_DEFINITION.sub(lambda m: _removed(m.group(1) or "", "link reference definition", hidden, ""), text)
    return _strip_elements(text, hidden, style)


def _raw_reason(tag: str) -> str:
    """Style sheets are removed without a count (they are rules, not hidden prose); other raw elements count."""
    return "" if tag.lower() == "style" else f"<{tag.lower()}> element"


def _removed(content: str, why: str, hidden: dict[str, int], whole: str) -> str:
    """Count what is removed when it held text; keep its line breaks so the Markdown around it keeps its shape."""
    if why and clean_text(content.removesuffix("-->").strip("\"'()")):
        hidden[why] = hidden.get(why, 0) + 1
    return "\n" * whole.count("\n") or " "


def _strip_elements(text: str, hidden: dict[str, int], style: PageStyle) -> str:
    pos = 0
    while True:
        m = _OPEN_TAG.search(text, pos)
        if m is None:
            return text
        name = m.group(1).lower()
        if m.group(3) or name in _VOID:
            pos = m.end()
            continue
        why = _hidden_tag(m.group(0), name, style)
        if not why:
            pos = m.end()
            continue
        end = _closing(text, name, m.end())
        if clean_text(re.sub(r"<[^>]*>", " ", text[m.end() : end])):
            hidden[why] = hidden.get(why, 0) + 1
        text = text[: m.start()] + _removed("", why, {}, text[m.start() : end]) + text[end:]
        pos = m.start()


def _hidden_tag(tag: str, name: str, style: PageStyle) -> str:
    try:
        el = lxml.html.fragment_fromstring(f"{tag}</{name}>")
    except (etree.ParserError, ValueError):
        return ""
    if not isinstance(el.tag, str):
        return ""
    verdict = style.judge(el, Context())
    return verdict.subtree or verdict.own


def _closing(text: str, name: str, start: int) -> int:
    """Where the element opened just before `start` ends (after its closing tag), or the end of its paragraph."""
    tags = re.compile(rf"<(/?){re.escape(name)}\b[^>]*>", re.I)
    depth = 1
    for m in tags.finditer(text, start):
        depth += -1 if m.group(1) else (0 if m.group(0).endswith("/>") else 1)
        if depth == 0:
            return m.end()
    blank = re.search(r"\n[ \t]*\n", text[start:])  # never closed: HTML blocks end at a blank line
    return start + blank.start() if blank else len(text)
