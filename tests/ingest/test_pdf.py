"""PDF reader: pages, headings from font sizes, running headers, hyphenation, damaged and encrypted files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("pypdf")
pytest.importorskip("reportlab")

from bedside.errors import IngestError
from bedside.ingest.pdf import read_pdf
from bedside.ingest.pdf_layout import Line, _drop_furniture, _Heading, _items
from bedside.ingest.readers import read_path
from bedside.model import Document

TITLE = "Management of Cellulitis in Adults"


def _read(path: Path) -> Document:
    with path.open("rb") as fh:
        (doc,) = list(read_pdf(fh, str(path)))
    assert isinstance(doc, Document)
    return doc


@pytest.fixture(scope="module")
def guideline(guideline_pdf: Path) -> Document:
    return _read(guideline_pdf)


def test_metadata_from_info_dictionary(guideline: Document) -> None:
    assert guideline.id == "cellulitis-guideline-v1-2"
    assert guideline.title == TITLE
    assert guideline.authors == ("Regional Clinical Guideline Network", "Skin Infection Working Group")
    assert guideline.topics == ("cellulitis", "antibiotics", "skin infection")
    assert ("subject", "Assessment and antibiotic treatment of cellulitis") in guideline.extra
    assert isinstance(guideline.year, int) and guideline.year >= 2024  # /CreationDate is the build time
    assert guideline.format == "pdf"


def test_headings_from_font_size_and_numbering(guideline: Document) -> None:
    headings = [b.heading for b in guideline.blocks]
    assert headings[0] == TITLE  # the two-line 20 pt title is one heading
    assert f"{TITLE} > 1 Scope" in headings
    assert f"{TITLE} > 2 Assessment > 2.1 Clinical features" in headings
    assert f"{TITLE} > 2 Assessment > 2.2 Severity" in headings
    assert f"{TITLE} > 3 Management > 3.1 Antibiotic choice" in headings
    assert f"{TITLE} > 4 Referral" in headings
    assert "\n\n3.1 Antibiotic choice\n\n" in guideline.text


def test_running_header_and_page_numbers_are_dropped(guideline: Document, guideline_header: str) -> None:
    assert guideline_header not in guideline.text
    assert "Regional Clinical Guideline Network" not in guideline.text
    assert not re.search(r"(^|\n)\d+(\n|$)", guideline.text), "a bare page number survived"


def test_wrapped_lines_are_joined_and_dehyphenated(guideline: Document) -> None:
    text = guideline.text
    assert "spreading erythema, warmth, swelling and tenderness of one limb." in text
    assert "Oral flucloxacillin remains the first-line treatment for most adults" in text
    assert "an agent with anti-MRSA activity" in text  # a capital after the hyphen: the hyphen is real
    assert "treat-" not in text and "swel-" not in text
    assert "non-purulent cellulitis of the limbs in adults." in text


def test_sentence_carried_over_a_page_break_stays_one_paragraph(guideline: Document) -> None:
    assert "so that progression can be judged at review. Ask about previous episodes" in guideline.text


def test_bullets_become_separate_paragraphs(guideline: Document) -> None:
    paragraphs = guideline.text.split("\n\n")
    assert "confusion, hypotension or a rapidly rising lactate;" in paragraphs
    assert "crepitus, bullae or skin necrosis." in paragraphs
    assert "\x7f" not in guideline.text


def test_every_block_has_the_page_it_is_on(guideline: Document, guideline_pdf: Path) -> None:
    from pypdf import PdfReader

    pages = [" ".join(p.extract_text().split()) for p in PdfReader(guideline_pdf).pages]
    for block in guideline.blocks:
        assert block.page in (1, 2, 3)
        opening = " ".join(guideline.text[block.start : block.end].split()[:4])
        assert opening in pages[block.page - 1], (block, opening)
    pages_by_heading = {b.heading.rsplit(" > ", 1)[-1]: b.page for b in guideline.blocks}
    assert pages_by_heading["1 Scope"] == 1
    assert pages_by_heading["2.2 Severity"] == 2
    assert pages_by_heading["3.1 Antibiotic choice"] == 3


def test_passages_are_exact_spans_with_pages(guideline: Document, check_spans) -> None:
    passages = check_spans(guideline)
    assert all(p.page in (1, 2, 3) for p in passages)
    (clarithromycin,) = [p for p in passages if "clarithromycin" in p.text]
    assert clarithromycin.page == 3
    (scope,) = [p for p in passages if "non-purulent" in p.text]
    assert scope.page == 1


def test_ids_and_content_are_stable_across_reads(guideline: Document, guideline_pdf: Path) -> None:
    again = _read(guideline_pdf)
    assert (again.id, again.content_hash) == (guideline.id, guideline.content_hash)


def test_title_falls_back_to_first_heading(untitled_pdf: Path) -> None:
    doc = _read(untitled_pdf)
    assert doc.title == "Living with Asthma"  # reportlab's "untitled" placeholder is ignored
    assert doc.authors == ()  # and so is "anonymous"
    assert doc.id == "leaflet"
    assert doc.blocks[0].heading == "Living with Asthma" and doc.blocks[0].page == 1


def test_read_path_detects_pdf(guideline_pdf: Path) -> None:
    (doc,) = list(read_path(guideline_pdf))
    assert isinstance(doc, Document) and doc.id == "cellulitis-guideline-v1-2"


def test_password_protected_pdf(encrypted_pdf: Path) -> None:
    with pytest.raises(IngestError, match=r"locked\.pdf: encrypted PDF \(password required\)"):
        _read(encrypted_pdf)


def test_pdf_encrypted_with_empty_user_password_is_read(owner_only_pdf: Path, guideline: Document) -> None:
    doc = _read(owner_only_pdf)
    assert doc.text == guideline.text
    assert doc.id == "restricted"


def test_truncated_pdf(truncated_pdf: Path) -> None:
    with pytest.raises(IngestError, match=r"truncated\.pdf: corrupt or truncated PDF"):
        _read(truncated_pdf)


def test_not_a_pdf_and_empty_file(tmp_path: Path) -> None:
    fake = tmp_path / "notes.pdf"
    fake.write_text("These are plain-text notes saved with the wrong extension.\n")
    with pytest.raises(IngestError, match=r"notes\.pdf: not a PDF file"):
        _read(fake)
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match=r"empty\.pdf: file is empty"):
        _read(empty)


def test_scanned_pdf_without_text(scanned_pdf: Path) -> None:
    with pytest.raises(IngestError) as info:
        _read(scanned_pdf)
    assert str(info.value).endswith("scanned_referral.pdf: no extractable text (scanned PDF? run OCR first)")


def test_numbered_page_footers_are_furniture() -> None:
    body = [
        ["Check inhaler technique at every review.", "Ask about night-time symptoms."],
        ["Agree a written personalised action plan.", "Record peak flow when stable."],
        ["Offer an annual influenza vaccine.", "Consider referral after two courses of steroids."],
        ["Step down treatment after three stable months.", "Summary (page 4 of this leaflet)."],
    ]

    def page(n: int) -> list[Line]:
        lines = [Line(text, 10, 700 - 12 * i, n) for i, text in enumerate(body[n - 1])]
        return [Line("Asthma in adults: summary", 8, 800, n), *lines, Line(f"Page {n} of 4", 8, 30, n)]

    kept = _drop_furniture([page(n) for n in range(1, 5)])
    assert [[line.text for line in p] for p in kept] == body


def test_title_and_numbered_heading_in_one_size_stay_apart() -> None:
    lines = [
        Line("Hypertension in Pregnancy", 18, 780, 1),
        Line("1 Background", 18, 740, 1),
        Line("Measure blood pressure at every antenatal visit.", 10, 720, 1),
        Line("Postnatal", 18, 690, 1),
        Line("Follow-up", 18, 670, 1),  # set close below the line before: one wrapped heading
        Line("Review within two weeks of the birth.", 10, 650, 1),
    ]
    headings = [(i.text, i.level) for i in _items(lines, 10) if isinstance(i, _Heading)]
    assert headings == [("Hypertension in Pregnancy", 1), ("1 Background", 1), ("Postnatal Follow-up", 1)]
