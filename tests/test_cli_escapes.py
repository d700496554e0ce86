"""Terminal escapes never reach the terminal raw: whatever a stored title, a reviewer's comment or an e-mail
address holds (data written before ingestion stripped control characters, or by another program), the CLI shows
control characters as visible escapes and never lets markup in data restyle its output."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bedside import Bedside
from bedside.cli import main
from bedside.cli.console import SafeConsole, safe, safe_json
from bedside.config import load_settings
from bedside.editorial.desk import SqlArticleService
from bedside.ingest import chunk
from bedside.ingest.builder import TextBuilder
from bedside.model import Document, DocumentId

CLEAR, TITLE, CONCEAL, CSI = "\x1b[2J", "\x1b]0;owned\x07", "\x1b[8m", "\x9b31m"
RAW = ("\x1b", "\x9b", "\x07", "\u202e")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BEDSIDE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BEDSIDE_STARTER_KB", "false")
    monkeypatch.delenv("BEDSIDE_DATABASE_URL", raising=False)
    return tmp_path / "data"


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_search_shows_escapes_in_stored_titles_and_text(data_dir: Path) -> None:
    builder = TextBuilder()
    builder.paragraph("Give potassium chloride slowly.")
    text, blocks = builder.build()
    doc = Document(
        DocumentId("old"),
        title=f"Potassium {CLEAR}{TITLE}[bold red]guide{CSI}\u202e",
        text=text,
        blocks=blocks,
        source=f"Renal {CONCEAL}unit",
    )  # written as an older version stored it, without the ingestion checks
    with Bedside(data_dir=data_dir, starter_kb=False) as b:
        b.store.write([(doc, chunk(doc))])
        b.kb.sync_indexes()
    output = _run("search", "potassium chloride")
    assert not any(c in output for c in RAW), repr(output)
    assert "Potassium \\x1b[2J\\x1b]0;owned" in output and "[bold red]guide\\x9b31m\\u202e" in output
    assert "Renal \\x1b[8munit" in output
    as_json = _run("search", "potassium chloride", "--json")
    assert not any(c in as_json for c in RAW) and json.loads(as_json)[0]["title"] == doc.title


def test_review_history_and_users_show_escapes(data_dir: Path) -> None:
    ref = {"number": 1, "type": "Guideline", "title": "K", "source": "", "year": 2021, "url": "", "document_id": "d"}
    answer: dict[str, Any] = {
        "question": "How is hyperkalaemia treated?",
        "title": "Hyperkalaemia",
        "audience": "clinician",
        "insufficient_evidence": False,
        "bottom_line": [{"text": "Give calcium.", "citations": [1], "provenance": []}],
        "sections": [],
        "references": [ref],
        "disclaimer": "",
        "meta": {"composer": "extractive"},
    }
    _run("users", "add", "rev@example.org", "--role", "reviewer")
    with SqlArticleService(load_settings().resolved_database_url) as service:
        slug = service.article_for(answer["question"], lambda: answer, {"d": "h"}).slug
        reviewer = service.get_user("rev@example.org")
        service.review(slug, "claim", reviewer, "")
        service.review(slug, "request_changes", reviewer, f"Fix the dose{CLEAR}{TITLE}{CONCEAL} now [red]x[/red]")
    output = _run("review", "history", slug)
    assert not any(c in output for c in RAW), repr(output)
    assert "Fix the dose\\x1b[2J\\x1b]0;owned\\x07\\x1b[8m now [red]x[/red]" in output


def test_safe_escapes_controls_and_keeps_text() -> None:
    assert safe("a\tb\nc") == "a\tb\nc" and safe("plain É ü 10%") == "plain É ü 10%"
    assert safe(f"x{CLEAR}\r\x00\x7f\u2066") == "x\\x1b[2J\\x0d\\x00\\x7f\\u2066"
    assert safe_json(json.dumps({"t": "a\x9bb\x1b"}, ensure_ascii=False)) == '{"t": "a\\u009bb\\u001b"}'
    buffer = io.StringIO()
    SafeConsole(file=buffer, force_terminal=True, width=120).print(
        f"[bold]ok[/bold] ann{CONCEAL}@example.org", highlight=False
    )
    printed = buffer.getvalue()
    assert "\x1b[1mok" in printed  # the console's own styling still works
    assert "ann\\x1b[8m@example.org" in printed and printed.count("\x1b") == 2
