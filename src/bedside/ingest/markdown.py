"""Markdown and plain text, with optional YAML front matter (the starter knowledge base's format)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from bedside.errors import IngestError
from bedside.ingest.builder import TextBuilder
from bedside.ingest.markdown_hidden import strip_hidden
from bedside.ingest.readers import RecordError, read_whole
from bedside.model import Block, Document, DocumentId, EvidenceType

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|`)(?=\S)(.+?)(?<=\S)\1")
_TAG = re.compile(r"</?[A-Za-z][^>]*>|<!--.*?-->", re.S)

MAX_FRONT_MATTER_CHARS = 64 * 1024
MAX_YAML_ALIASES = 16
MAX_YAML_DEPTH = 32
_KNOWN_KEYS = {
    "id",
    "title",
    "type",
    "issuer",
    "source",
    "publisher",
    "journal",
    "guideline",
    "year",
    "doi",
    "url",
    "pmid",
    "authors",
    "topics",
    "reviewed",
    "updated",
    "summary",
}


def read_markdown(stream: BinaryIO, origin: str) -> Iterator[Document | RecordError]:
    """Read one Markdown or text file."""
    raw = read_whole(stream, origin, "markdown")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise IngestError(origin, f"not valid UTF-8 (byte {exc.start})", line=line) from exc
    yield parse_markdown(text, origin)


def parse_markdown(text: str, origin: str) -> Document:
    """Parse Markdown with optional front matter into a Document."""
    meta, body = _front_matter(text, origin)
    builder = TextBuilder()
    title_from_body = _render_body(strip_hidden(body, builder.hidden), builder)
    doc_text, blocks = builder.build()
    if not doc_text.strip() or builder.empty:
        raise IngestError(origin, "document has no text")
    return replace(_document(meta, doc_text, blocks, origin, title_from_body), flags=builder.flags())


def _front_matter(text: str, origin: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            source = "\n".join(lines[1:i])
            if len(source) > MAX_FRONT_MATTER_CHARS:
                reason = f"front matter is {len(source):,} characters; the limit is {MAX_FRONT_MATTER_CHARS:,}"
                raise IngestError(origin, reason, line=1)
            if _flow_depth(source) > MAX_YAML_DEPTH:
                reason = f"invalid YAML front matter: nested more than {MAX_YAML_DEPTH} levels deep"
                raise IngestError(origin, reason, line=2)
            try:
                _check_aliases(source, origin)
                meta = yaml.safe_load(source) or {}
            except RecursionError as exc:
                raise IngestError(origin, "invalid YAML front matter: nested too deeply", line=2) from exc
            except ValueError as exc:  # not a YAMLError: an integer longer than Python converts
                reason = f"invalid YAML front matter: a number has more than {sys.get_int_max_str_digits():,} digits"
                raise IngestError(origin, reason, line=2) from exc
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                line = mark.line + 2 if mark is not None else None
                problem = getattr(exc, "problem", None) or str(exc)
                raise IngestError(origin, f"invalid YAML front matter: {problem}", line=line) from exc
            if not isinstance(meta, dict):
                raise IngestError(origin, "front matter must be a mapping of keys to values", line=2)
            return meta, "\n".join(lines[i + 1 :])
    raise IngestError(origin, "front matter opened with '---' is never closed", line=1)


def _flow_depth(source: str) -> int:
    """How deeply [ ] and { } nest outside quoted strings (checked before parsing: YAML's scanner slows down
    with the square of the depth)."""
    depth = deepest = 0
    quote, previous = "", "\n"
    for c in source:
        if quote:
            quote = "" if c in (quote, "\n") else quote
        elif c in "\"'" and previous in " \t\n:[{,":  # an apostrophe inside a word opens nothing
            quote = c
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        previous = c
    return deepest


def _check_aliases(source: str, origin: str) -> None:
    """Refuse front matter with more than MAX_YAML_ALIASES aliases: nested aliases expand exponentially (an
    "alias bomb") when the values are used, and metadata never needs many."""
    aliases = 0
    for token in yaml.scan(source, Loader=yaml.SafeLoader):
        if isinstance(token, yaml.AliasToken):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                line = token.start_mark.line + 2
                reason = f"front matter uses more than {MAX_YAML_ALIASES} YAML aliases (*name); write the values out"
                raise IngestError(origin, reason, line=line)


def _inline(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _TAG.sub(" ", text)
    for _ in range(2):
        text = _EMPHASIS.sub(r"\2", text)
    return text


def _render_body(body: str, builder: TextBuilder) -> str:
    """Feed the body into the builder; return the first level-1 heading, if any."""
    title = ""
    para: list[str] = []
    in_fence = False
    lines = body.split("\n")

    def flush() -> None:
        if para:
            builder.paragraph(_inline(" ".join(para)))
            para.clear()

    for i, line in enumerate(lines):
        if _FENCE.match(line):
            flush()
            in_fence = not in_fence
            continue
        if in_fence:
            para.append(line)
            continue
        stripped = line.strip()
        m = _HEADING.match(stripped)
        if m:
            flush()
            level, heading = len(m.group(1)), _inline(m.group(2))
            if level == 1 and not title:
                title = heading
            builder.heading(heading, level)
            continue
        if _SETEXT.match(stripped) and para and i > 0 and lines[i - 1].strip():
            heading = para.pop()
            flush()
            builder.heading(_inline(heading), 1 if stripped[0] == "=" else 2)
            continue
        if not stripped:
            flush()
        elif _TABLE_RULE.match(stripped):
            continue
        elif stripped.startswith("|"):
            flush()
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            builder.paragraph(_inline(" | ".join(c for c in cells if c)))
        elif _BULLET.match(line):
            flush()
            para.append(_BULLET.sub("", line, count=1))
        elif stripped.startswith(">"):
            para.append(stripped.lstrip("> "))
        else:
            para.append(stripped)
    flush()
    return title


def _document(meta: dict[str, Any], text: str, blocks: tuple[Block, ...], origin: str, body_title: str) -> Document:
    def field_error(key: str, message: str) -> IngestError:
        return IngestError(origin, f"front matter field '{key}': {message}")

    def text_field(key: str) -> str:
        value = meta.get(key)
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            raise field_error(key, "expected text")
        return str(value).strip()

    def list_field(key: str) -> tuple[str, ...]:
        value = meta.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if isinstance(value, list):
            return tuple(str(v).strip() for v in value if str(v).strip())
        raise field_error(key, "expected a list")

    year = meta.get("year")
    if year is not None:
        if isinstance(year, bool) or not isinstance(year, (int, str)) or not str(year).strip().isdigit():
            raise field_error("year", f"expected a four-digit year, got {year!r}")
        year = int(year)
        if not 1800 <= year <= 2100:
            raise field_error("year", f"{year} is not a plausible year")
    try:
        etype = EvidenceType.parse(text_field("type")) if meta.get("type") else EvidenceType.RESEARCH
    except ValueError as exc:
        raise field_error("type", str(exc)) from exc
    reviewed = meta.get("reviewed")
    if reviewed is not None and not isinstance(reviewed, bool):
        raise field_error("reviewed", f"expected true or false, got {reviewed!r}")
    doi = text_field("doi").removeprefix("https://doi.org/").removeprefix("doi:")
    doc_id = text_field("id") or _stem_id(origin)
    title = text_field("title") or body_title or Path(origin).stem.replace("-", " ").replace("_", " ")
    source = text_field("journal") or text_field("source") or text_field("publisher") or text_field("issuer")
    extra = tuple(
        (str(k), str(v)) for k, v in sorted(meta.items()) if k not in _KNOWN_KEYS and isinstance(v, (str, int, float))
    )
    if meta.get("updated"):
        extra += (("updated", str(meta["updated"])),)
    return Document(
        id=DocumentId(doc_id),
        title=title,
        text=text,
        evidence_type=etype,
        source=source,
        year=year,
        authors=list_field("authors"),
        url=text_field("url"),
        doi=doi,
        pmid=text_field("pmid"),
        issuer=text_field("issuer"),
        guideline=text_field("guideline"),
        format="markdown",
        origin=origin,
        reviewed=reviewed,
        topics=list_field("topics"),
        blocks=blocks,
        extra=extra,
    )


def _stem_id(origin: str) -> str:
    stem = Path(Path(origin).name.removesuffix(".gz")).stem
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "document"
