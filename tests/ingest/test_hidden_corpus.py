"""The hidden-text corpus: one file per hiding technique, HTML and Markdown under tests/fixtures/hidden, PDFs
written from raw content streams (pdf_corpus). Each file states the same true dosing advice visibly and hides a
false one ("... 500 mg every hour ... (regimen H07)") whose code names the technique.

No hidden sentence may reach a document's text, a search hit or an answer; the visible text must all be kept;
and the document is flagged (pages full of scripts and comments are not: those are silent furniture in HTML).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pdf_corpus import CLOSING, VISIBLE, hidden_sentence, write_corpus

from bedside import Bedside
from bedside.answer.evidence import EvidencePassage
from bedside.answer.verify import VerifyThresholds, verify_statement
from bedside.ingest import read_path
from bedside.model import Document

HIDDEN = Path(__file__).parent.parent / "fixtures" / "hidden"
LEAK = re.compile(r"every hour|regimen [HMP]\d\d|without a daily maximum", re.I)
SILENT = {"h63", "h64", "h65", "h66"}  # HTML comments, <template>, <noscript>, <script>: dropped unflagged


def _fixtures() -> list[tuple[Path, str]]:
    files = sorted(HIDDEN.glob("html/*.html")) + sorted(HIDDEN.glob("markdown/*.md"))
    return [(p, p.name.split("-")[0]) for p in files]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    return _fixtures() + write_corpus(tmp_path_factory.mktemp("hidden") / "pdf")


def test_corpus_covers_at_least_sixty_techniques_in_three_formats(corpus: list[tuple[Path, str]]) -> None:
    by_format = {suffix: sum(p.suffix == suffix for p, _ in corpus) for suffix in (".html", ".md", ".pdf")}
    assert sum(by_format.values()) >= 60 and min(by_format.values()) >= 10, by_format
    assert len({code for _, code in corpus}) == len(corpus)


def _read(path: Path) -> Document:
    (doc,) = list(read_path(path))
    assert isinstance(doc, Document)
    return doc


def test_every_technique_is_removed_flagged_and_keeps_the_visible_text(corpus: list[tuple[Path, str]]) -> None:
    leaks, lost, unflagged = [], [], []
    for path, code in corpus:
        doc = _read(path)
        text = " ".join(doc.text.split())
        if LEAK.search(text):
            leaks.append(path.name)
        if not all(sentence in text for sentence in (*VISIBLE, CLOSING)):
            lost.append(path.name)
        if code.lower() not in SILENT and not any(f.startswith("dropped 1 hidden text fragment") for f in doc.flags):
            unflagged.append((path.name, doc.flags))
    assert leaks == [] and lost == [] and unflagged == []


def test_no_hidden_sentence_is_quoted_in_answers_or_search(corpus: list[tuple[Path, str]], tmp_path: Path) -> None:
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:
        report = b.ingest([p for p, _ in corpus])
        assert report.failed == [] and report.added == len(corpus)
        assert len(report.warnings) == len(corpus) - len(SILENT)
        for query in ("paracetamol every hour", "paracetamol 500 mg regimen", "paracetamol daily maximum"):
            hits = b.search(query, limit=50)
            assert hits and not [h.text for h in hits if LEAK.search(h.text)]
        questions = (
            "What dose of paracetamol should be given for fever?",
            "How often can paracetamol be given every hour for fever?",
            "Is there a daily maximum for paracetamol?",
        )
        quoted = 0
        for question in questions:
            answer = b.ask(question).to_dict()
            statements = [s["text"] for s in answer["bottom_line"]]
            statements += [s["text"] for section in answer["sections"] for s in section["statements"]]
            assert statements, question  # the visible advice answers it
            quoted += sum(bool(LEAK.search(s)) for s in statements)
        assert quoted == 0


def test_an_llm_statement_quoting_hidden_text_fails_verification(
    corpus: list[tuple[Path, str]], tmp_path: Path
) -> None:
    """A model that quotes the hidden sentence, citing the document it hid in, is not supported by the passage."""
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:
        b.ingest([p for p, _ in corpus])
        supported = []
        for path, code in corpus:
            (doc_id,) = [d for d in b.store.document_ids() if b.store.document(d).origin == str(path)]
            cited = [
                EvidencePassage(p.id, p.document_id, p.text, p.start, title="Paracetamol for fever")
                for p in b.store.passages_of(doc_id)
            ]
            if verify_statement(hidden_sentence(code), cited, None, VerifyThresholds()).ok:
                supported.append(path.name)
            assert verify_statement(VISIBLE[0], cited, None, VerifyThresholds()).ok, path.name  # the control
        assert supported == []
