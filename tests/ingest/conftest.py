"""Shared checks for reader tests, and PDF fixtures generated with reportlab at test time.

Binary PDFs are not kept in the repository; the XML and HTML fixtures live in tests/fixtures/.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from bedside.ingest.chunking import chunk
from bedside.model import Document, Passage


@pytest.fixture(scope="session")
def check_spans() -> Callable[[Document], list[Passage]]:
    """Assert that every block and every chunked passage is an exact, ordered, non-overlapping span of the text."""

    def check(doc: Document) -> list[Passage]:
        assert doc.text and doc.text == doc.text.strip()
        assert doc.blocks, "a document should have at least one block"
        previous_end = 0
        for block in doc.blocks:
            assert previous_end <= block.start < block.end <= len(doc.text), block
            assert doc.text[block.start : block.end].strip(), block
            previous_end = block.end
        passages = chunk(doc)
        assert passages
        for passage in passages:
            assert doc.text[passage.start : passage.end] == passage.text
        return passages

    return check


try:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas
except ImportError:  # the PDF tests skip themselves; the other reader tests still run
    A4 = canvas = None  # type: ignore[assignment]

HEADER = "Regional Clinical Guideline Network | Cellulitis in adults | Version 1.2"
LEFT, TOP, LEADING, PARAGRAPH_GAP = 72, 770, 13, 8

# One entry per page: ("title" | "h1" | "h2" | "p" | "li", lines as drawn). Line breaks and hyphens are deliberate.
GUIDELINE_PAGES: list[list[tuple[str, list[str]]]] = [
    [
        ("title", ["Management of Cellulitis", "in Adults"]),
        ("p", ["Clinical guideline for primary care and acute medical units."]),
        ("h1", ["1 Scope"]),
        (
            "p",
            [
                "This guideline covers the assessment and management of non-purulent cellulitis of the",
                "limbs in adults. It does not cover cellulitis around the eye, diabetic foot infection or",
                "infections after animal bites, which need specialist advice.",
            ],
        ),
        ("h1", ["2 Assessment"]),
        ("h2", ["2.1 Clinical features"]),
        (
            "p",
            [
                "Cellulitis usually presents with spreading erythema, warmth, swel-",
                "ling and tenderness of one limb. Bilateral redness of the lower legs is more",
                "often caused by venous eczema or lipodermatosclerosis than by infection.",
            ],
        ),
        (
            "p",
            [
                "Record the temperature, heart rate, blood pressure and respiratory rate, and mark",
                "the edge of the erythema with a skin pen so that progression can be judged at",
            ],
        ),
    ],
    [
        (
            "p",
            [
                "review. Ask about previous episodes, leg ulcers, lymphoedema and recent trauma.",
            ],
        ),
        ("h2", ["2.2 Severity"]),
        (
            "p",
            [
                "Classify severity using the clinical picture and the presence of systemic features.",
                "Features that suggest severe infection include:",
            ],
        ),
        ("li", ["• confusion, hypotension or a rapidly rising lactate;"]),
        ("li", ["• pain out of proportion to the visible signs;"]),
        ("li", ["• crepitus, bullae or skin necrosis."]),
        ("h1", ["3 Management"]),
        (
            "p",
            [
                "Elevate the affected limb and treat any tinea pedis between the toes. Oral flucloxa-",
                "cillin remains the first-line treat-",
                "ment for most adults with mild or moderate cellulitis. In people with a history of",
                "colonisation, consider an agent with anti-",
                "MRSA activity after discussion with microbiology.",
            ],
        ),
    ],
    [
        ("h2", ["3.1 Antibiotic choice"]),
        (
            "p",
            [
                "For penicillin allergy, use clarithromycin or doxycycline according to local",
                "resistance data. Give intravenous antibiotics only when oral treatment is not",
                "tolerated or the infection is severe, and switch to oral therapy within 48 hours",
                "when the patient is improving.",
            ],
        ),
        ("h2", ["3.2 Review"]),
        (
            "p",
            [
                "Review the patient after two to three days. Some spread of redness in the first 24",
                "hours is common and does not by itself mean that treatment has failed.",
            ],
        ),
        ("h1", ["4 Referral"]),
        (
            "p",
            [
                "Refer the same day when there are signs of sepsis, suspected necrotising fasciitis,",
                "or failure to improve despite adequate oral treatment.",
            ],
        ),
    ],
]

_FONTS = {"title": ("Helvetica-Bold", 20), "h1": ("Helvetica-Bold", 13), "h2": ("Helvetica-Bold", 11)}


def _draw_page(c: canvas.Canvas, number: int, blocks: list[tuple[str, list[str]]]) -> None:
    c.setFont("Helvetica", 8)
    c.drawString(LEFT, 810, HEADER)
    y = TOP
    for kind, lines in blocks:
        font, size = _FONTS.get(kind, ("Helvetica", 10))
        c.setFont(font, size)
        for line in lines:
            c.drawString(LEFT, y, line)
            y -= size + 4 if kind in _FONTS else LEADING
        y -= PARAGRAPH_GAP if kind != "li" else 0
    c.setFont("Helvetica", 9)
    c.drawCentredString(297, 30, str(number))


def make_guideline_pdf(path: Path) -> Path:
    """A 3-page guideline: big two-line title, numbered headings, wrapped and hyphenated body text,
    a running header, page numbers, and a sentence that runs over a page break."""
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle("Management of Cellulitis in Adults")
    c.setAuthor("Regional Clinical Guideline Network; Skin Infection Working Group")
    c.setSubject("Assessment and antibiotic treatment of cellulitis")
    c.setKeywords("cellulitis, antibiotics, skin infection")
    c.setCreator("bedside test suite")
    for number, blocks in enumerate(GUIDELINE_PAGES, start=1):
        _draw_page(c, number, blocks)
        c.showPage()
    c.save()
    return path


@pytest.fixture(scope="session")
def guideline_header() -> str:
    """The running header drawn at the top of every page of the guideline PDF."""
    return HEADER


@pytest.fixture(scope="session")
def pdf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pdf")


@pytest.fixture(scope="session")
def guideline_pdf(pdf_dir: Path) -> Path:
    return make_guideline_pdf(pdf_dir / "cellulitis_guideline_v1.2.pdf")


@pytest.fixture(scope="session")
def untitled_pdf(pdf_dir: Path) -> Path:
    """One page without info-dict metadata: the title must come from the first heading."""
    path = pdf_dir / "leaflet.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica-Bold", 18)
    c.drawString(LEFT, TOP, "Living with Asthma")
    c.setFont("Helvetica", 10)
    c.drawString(LEFT, TOP - 30, "Use your preventer inhaler every day, even when you feel well.")
    c.drawString(LEFT, TOP - 43, "Carry your reliever inhaler with you at all times.")
    c.showPage()
    c.save()
    return path


@pytest.fixture(scope="session")
def encrypted_pdf(guideline_pdf: Path, pdf_dir: Path) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(guideline_pdf))
    writer.encrypt(user_password="s3cret", owner_password="owner", algorithm="RC4-128")
    path = pdf_dir / "locked.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    return path


@pytest.fixture(scope="session")
def owner_only_pdf(guideline_pdf: Path, pdf_dir: Path) -> Path:
    """Encrypted with an empty user password, as permission-restricted PDFs are: readable without a password."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=str(guideline_pdf))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    path = pdf_dir / "restricted.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    return path


@pytest.fixture(scope="session")
def truncated_pdf(guideline_pdf: Path, pdf_dir: Path) -> Path:
    data = guideline_pdf.read_bytes()
    path = pdf_dir / "truncated.pdf"
    path.write_bytes(data[: len(data) // 3])
    return path


@pytest.fixture(scope="session")
def scanned_pdf(pdf_dir: Path) -> Path:
    """Two pages holding only an image, like a scan without OCR."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader

    image = Image.new("L", (120, 160), color=230)
    for x in range(10, 110):
        for y in (30, 50, 70, 90):
            image.putpixel((x, y), 20)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    path = pdf_dir / "scanned_referral.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(2):
        c.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 72, 300, width=450, height=500)
        c.showPage()
    c.save()
    return path
