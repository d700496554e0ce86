"""Malformed files never crash a batch: each bad file or record is reported as `failed: PATH[:LINE]: reason` and
everything else in the batch is written. The readers are fuzzed: whatever the bytes, a reader yields documents
or record errors, or raises IngestError naming the file, and nothing else.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bedside import Bedside
from bedside.cli import main
from bedside.errors import IngestError
from bedside.ingest import read_path
from bedside.ingest.jsonl import read_jsonl
from bedside.ingest.markdown import parse_markdown
from bedside.ingest.readers import RecordError
from bedside.model import Document

GOOD = {"id": "good-1", "title": "Hyperkalaemia", "text": "Give calcium gluconate 10% 30 ml intravenously."}
BOMB = "\n".join(
    [f"a0: &a0 [{', '.join(['x'] * 9)}]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["topics: *a8"]
)


def _corrupt_gzip() -> bytes:
    data = bytearray(gzip.compress(b'{"id": "z", "text": "some text to compress"}\n' * 200))
    for i in range(20, 60):
        data[i] ^= 0x5A  # the deflate stream itself: zlib.error, not a CRC mismatch
    return bytes(data)


BAD_FILES: dict[str, tuple[bytes, str]] = {  # name -> (content, the failure expected: "PATH[:LINE]: reason")
    "corrupt.jsonl.gz": (_corrupt_gzip(), "corrupt.jsonl.gz: cannot read: Error -3 while decompressing"),
    "deep.jsonl": (b"[" * 200_000 + b"]" * 200_000 + b"\n", "deep.jsonl:1: invalid JSON: nested too deeply"),
    "digits.jsonl": (
        b'{"id": "n", "text": "x", "year": ' + b"9" * 5000 + b"}\n",
        "digits.jsonl:1: invalid JSON: a number has more than",
    ),
    "surrogate.jsonl": (
        b'{"id": "s", "title": "K \\ud800", "text": "Potassium."}\n',
        "surrogate.jsonl:1: field 'title': invalid Unicode (lone surrogate U+D800",
    ),
    "surrogate.md": (
        b'---\ntitle: "Bad \\udc00 title"\n---\nSome body text.\n',
        "surrogate.md: field 'title': invalid Unicode (lone surrogate U+DC00",
    ),
    "digits.md": (b"---\nyear: " + b"1" * 5000 + b"\n---\nBody.\n", "digits.md:2: invalid YAML front matter: a number"),
    "bomb.md": (f"---\n{BOMB}\n---\nBody.\n".encode(), "bomb.md:4: front matter uses more than 16 YAML aliases"),
    "deep.md": (
        b"---\nx: " + b"[" * 20_000 + b"]" * 20_000 + b"\n---\nBody.\n",
        "deep.md:2: invalid YAML front matter: nested more than 32",
    ),
}


def test_each_bad_file_fails_alone_and_the_batch_is_written(tmp_path: Path) -> None:
    paths = []
    for n, (name, (content, _)) in enumerate(BAD_FILES.items()):
        good = tmp_path / f"good-{n}.jsonl"
        good.write_text(json.dumps({**GOOD, "id": f"good-{n}"}) + "\n", encoding="utf-8")
        bad = tmp_path / name
        bad.write_bytes(content)
        paths += [good, bad]
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:
        report = b.ingest(paths)
        failures = [f"{Path(where).name}: {why}" for where, why in report.failed]
        for name, (_, expected) in BAD_FILES.items():
            assert any(f.startswith(expected) for f in failures), (name, failures)
        assert len(failures) == len(BAD_FILES) and report.added == len(BAD_FILES)
        assert {h.document_id for h in b.search("calcium gluconate", limit=20)} == {
            f"good-{n}" for n in range(len(BAD_FILES))
        }


def test_good_records_around_a_bad_one_are_kept(tmp_path: Path) -> None:
    lines = [
        json.dumps({**GOOD, "id": "before"}),
        "[" * 100_000,
        '{"id": "lone", "text": "a \\udfff b"}',
        json.dumps({**GOOD, "id": "after"}),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:
        report = b.ingest([path])
        assert report.added == 2 and [w for w, _ in report.failed] == [f"{path}:2", f"{path}:3"]


def test_cli_prints_failed_lines_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEDSIDE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BEDSIDE_STARTER_KB", "false")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(GOOD) + "\n", encoding="utf-8")
    for name, (content, _) in BAD_FILES.items():
        (tmp_path / name).write_bytes(content)
    result = CliRunner().invoke(main, ["ingest", str(tmp_path)])
    output = " ".join(result.output.split())
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for name, (_, expected) in BAD_FILES.items():
        assert f"failed: {tmp_path / expected}" in output, name
    assert "1 added" in output


def _read_all(reader: Iterator[Document | RecordError]) -> list[Document | RecordError]:
    items = list(reader)
    assert all(isinstance(i, (Document, RecordError)) for i in items)
    return items


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)), max_size=6))
def test_fuzz_jsonl_reader(lines: list[bytes]) -> None:
    """Arbitrary lines: every line becomes a document or a record error, never an exception."""
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines)
    _read_all(read_jsonl(io.BytesIO(data), "fuzz.jsonl"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["id", "title", "text", "year", "type", "authors", "section", "x"]), json_values)
)
def test_fuzz_jsonl_records(record: dict[str, object]) -> None:
    """Well-formed JSON with any field types: a document or a record error naming line 1."""
    data = json.dumps(record).encode()
    for item in _read_all(read_jsonl(io.BytesIO(data), "fuzz.jsonl")):
        if isinstance(item, RecordError):
            assert item.error.line == 1


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.text(max_size=200))
def test_fuzz_markdown_with_front_matter(front: str, body: str) -> None:
    """Any front matter and body: a document or IngestError, never another exception."""
    with contextlib.suppress(IngestError):
        parse_markdown(f"---\n{front}\n---\n{body}", "fuzz.md")


def _mutations(data: bytes, seed: st.DrawFn) -> bytes:
    out = bytearray(data)
    for _ in range(seed(st.integers(1, 8))):
        position = seed(st.integers(0, len(out) - 1))
        action = seed(st.sampled_from(["flip", "drop", "dup", "cut"]))
        if action == "flip":
            out[position] ^= seed(st.integers(1, 255))
        elif action == "drop":
            del out[position : position + seed(st.integers(1, 50))]
        elif action == "dup":
            out[position:position] = out[position : position + seed(st.integers(1, 50))]
        else:
            del out[position:]
        if not out:
            out = bytearray(b"x")
    return bytes(out)


@pytest.mark.slow
def test_fuzz_mutated_files_of_every_format(tmp_path: Path, fixtures: Path) -> None:
    """A mutation corpus: bytes flipped, dropped, repeated or cut in a valid file of each format."""
    originals = _samples_from(fixtures, tmp_path)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.sampled_from(sorted(originals)), st.data())
    def check(name: str, data: st.DataObject) -> None:
        path = tmp_path / name
        path.write_bytes(_mutations(originals[name], data.draw))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a damaged PDF makes pypdf warn; the reader's answer is what counts
            try:
                _read_all(read_path(path))
            except IngestError as exc:
                assert exc.path == str(path)

    check()


def _samples_from(fixtures: Path, tmp_path: Path) -> dict[str, bytes]:
    from pdf_corpus import TECHNIQUES, write_pdf

    pdf = tmp_path / "sample.pdf"
    write_pdf(pdf, TECHNIQUES[0], "F1")
    return {
        "page.html": (fixtures / "html" / "guideline_page.html").read_bytes(),
        "digest.md": (fixtures / "markdown" / "digest.md").read_bytes(),
        "corpus.jsonl.gz": gzip.compress((fixtures / "jsonl" / "corpus.jsonl").read_bytes()),
        "pubmed.xml": (fixtures / "medline" / "pubmed_efetch.xml").read_bytes(),
        "article.nxml": (fixtures / "jats" / "pmc_article.xml").read_bytes(),
        "leaflet.pdf": pdf.read_bytes(),
    }


def test_size_limits_fail_only_their_record_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bedside.ingest import readers, sanitize

    monkeypatch.setattr(sanitize, "MAX_DOCUMENT_CHARS", 2_000)
    monkeypatch.setitem(readers.MAX_FILE_BYTES, "markdown", 4_000)
    corpus = tmp_path / "sizes.jsonl"
    huge_line = json.dumps({"id": "huge", "text": "word " * 2_000_000})  # 10 MB: over the default 8 MB record
    long_text = json.dumps({"id": "long", "text": "Potassium chloride. " * 150})  # 3,000 characters
    long_title = json.dumps({"id": "title", "title": "T" * 20_000, "text": "short"})
    corpus.write_text("\n".join([huge_line, long_text, long_title, json.dumps(GOOD)]) + "\n", encoding="utf-8")
    big_md = tmp_path / "big.md"
    big_md.write_text("# Big\n\n" + "Sodium chloride 0.9%. " * 500, encoding="utf-8")
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:
        report = b.ingest([corpus, big_md])
        assert dict(report.failed) == {
            f"{corpus}:1": "record is larger than the limit of 8,388,608 bytes (split the text)",
            f"{corpus}:2": "document text is 2,999 characters; the limit is 2,000 (split it)",
            f"{corpus}:3": "field 'title' is 20,000 characters; the limit is 10,000",
            str(big_md): "file is larger than the markdown limit of 4,000 bytes (split it)",
        }
        assert report.added == 1 and b.search("calcium gluconate", 1)[0].document_id == GOOD["id"]


def test_control_characters_are_removed_at_input(tmp_path: Path) -> None:
    record = {
        "id": "esc",
        "title": "Hyperkalaemia\x1b]0;owned\x07 \x1b[2J\x9b guide",
        "source": "Renal\x1b[8m hidden\x1b[0m Association",
        "authors": ["A. Author\x07"],
        "text": "Give calcium gluconate\x1b[31m 10%\x1b[0m 30 ml.\x00\n\nThen insulin\x08 with glucose.",
    }
    path = tmp_path / "esc.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    (doc,) = list(read_path(path))
    assert isinstance(doc, Document)
    for value in (doc.title, doc.source, *doc.authors, doc.text):
        assert not any((ord(c) < 32 and c not in "\n") or 0x7F <= ord(c) <= 0x9F for c in value), value
    assert doc.title == "Hyperkalaemia guide" and doc.source == "Renal hidden Association"
    assert doc.text == "Give calcium gluconate 10% 30 ml.\n\nThen insulin with glucose."
    assert doc.flags[-1].startswith("removed ") and doc.flags[-1].endswith("control characters (terminal escapes)")
    for block in doc.blocks:
        assert 0 <= block.start < block.end <= len(doc.text)


css_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "0",
            "-9999px",
            "1e999",
            "nan",
            "inherit",
            "50%",
            "calc(0*1px)",
            "rgba(1,2,3,",
            "hsl(1e9turn 0 0)",
            "#ffff",
            "scale(1e-9)",
            "inset(50% 0)",
            "rect(0,0,0,0)",
            "/**/none",
            "none !important",
        ]
    ),
)
properties = st.sampled_from(
    [
        "display",
        "visibility",
        "opacity",
        "color",
        "background",
        "background-color",
        "font-size",
        "font",
        "height",
        "max-height",
        "overflow",
        "position",
        "left",
        "top",
        "text-indent",
        "transform",
        "clip",
        "clip-path",
        "scale",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.text("abcx.#> *:[]=\"'~+", max_size=12), properties, css_values), max_size=6),
    st.lists(st.tuples(properties, css_values), max_size=6),
    st.text(max_size=60),
)
def test_fuzz_html_styles(rules: list[tuple[str, str, str]], inline: list[tuple[str, str]], extra: str) -> None:
    """Any style sheet and style attribute: the page is read or refused with IngestError, never a crash."""
    from html import escape as html_escape

    sheet = "\n".join(f"{selector} {{ {name}: {value} }}" for selector, name, value in rules)
    style = html_escape("; ".join(f"{name}: {value}" for name, value in inline))
    page = (
        f"<html><head><style>{sheet}</style></head><body><main><p>Visible dose text.</p>"
        f'<div class="a b" id="x"><p style="{style}">Styled text {html_escape(extra)}</p></div></main></body></html>'
    )
    with contextlib.suppress(IngestError):
        _read_all(read_path_bytes(page.encode("utf-8", "surrogatepass"), "fuzz.html"))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_markdown_html(body: str) -> None:
    """Markdown with arbitrary inline HTML, comments and link definitions: read or refused, never a crash."""
    with contextlib.suppress(IngestError):
        parse_markdown(f"# Title\n\nVisible text.\n\n{body}\n<div hidden>{body}</div>\n[x]: y '{body}'\n", "fuzz.md")


def read_path_bytes(data: bytes, name: str) -> Iterator[Document | RecordError]:
    from bedside.ingest.html import read_html

    return read_html(io.BytesIO(data), name)
