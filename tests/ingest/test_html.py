"""HTML reader: main content only, with citation metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedside.errors import IngestError
from bedside.ingest.html import read_html
from bedside.ingest.readers import read_path
from bedside.model import Document, EvidenceType

HTML = Path(__file__).resolve().parent.parent / "fixtures" / "html"


def _read(path: Path) -> Document:
    with path.open("rb") as fh:
        (doc,) = list(read_html(fh, str(path)))
    assert isinstance(doc, Document)
    return doc


def _page(tmp_path: Path, body: str, head: str = "", name: str = "page.html") -> Path:
    path = tmp_path / name
    path.write_text(f'<!DOCTYPE html>\n<html><head><meta charset="utf-8">{head}</head>\n<body>{body}</body></html>\n')
    return path


@pytest.fixture(scope="module")
def page() -> Document:
    return _read(HTML / "guideline_page.html")


def test_citation_metadata(page: Document) -> None:
    assert page.id == "doi:10.5555/ehg.2022.aom"
    assert page.doi == "10.5555/ehg.2022.aom"
    assert page.title == "Acute otitis media in children: assessment and management"
    assert page.source == "Example Health Guidance"
    assert page.year == 2022  # citation_publication_date before article:published_time
    assert page.authors == ("Example Guideline Development Group", "Rivera, Lucía")
    assert page.url == "https://guidance.example.org/conditions/acute-otitis-media-children"
    assert page.evidence_type is EvidenceType.GUIDELINE
    assert page.topics == ("otitis media", "antibiotics", "paediatrics")
    assert page.format == "html"


def test_headings_nest_by_level(page: Document) -> None:
    headings = [b.heading for b in page.blocks]
    assert "Acute otitis media in children > Overview" in headings
    assert "Acute otitis media in children > Assessment > Symptoms and signs" in headings
    assert "Acute otitis media in children > Assessment > When to refer" in headings
    assert "Acute otitis media in children > Management" in headings
    assert page.text.startswith("Acute otitis media in children\n\n")  # the article's own header is kept


@pytest.mark.parametrize(
    "boilerplate",
    [
        "Skip to main content",
        "We use cookies",
        "Accept all cookies",
        "Conditions A to Z",
        "About us",
        "Home",
        "Share on social media",
        "HIDDEN ATTRIBUTE TEXT",
        "ARIA HIDDEN TEXT",
        "HIDDEN INLINE TEXT",
        "INLINE SCRIPT TEXT",
        "TRACKING SCRIPT TEXT",
        "SCRIPT JSON TEXT",
        "font-family",
        "Related guidance",
        "Otitis externa",
        "Popular pages",
        "Subscribe to our newsletter",
        "All rights reserved",
        "Privacy",
        "Was this page helpful",
        "Page last reviewed",
        "Search",
    ],
)
def test_boilerplate_is_removed(page: Document, boilerplate: str) -> None:
    assert boilerplate not in page.text


def test_main_content_is_kept_in_order(page: Document) -> None:
    paragraphs = page.text.split("\n\n")
    expected = [
        "Published 15 June 2022. Next review due June 2025.",
        "Acute otitis media is a common infection of the middle ear in young children. Most episodes resolve within"
        " three days without antibiotics, and complications are rare.",
        "This guidance covers children aged 3 months to 15 years seen in primary care.",  # loose text in a div
        "A bulging, red tympanic membrane supports the diagnosis.",
        "Discharge after a perforation can follow a rapid rise in pain.",
        "Table 1. Suggested first-line oral antibiotic",
        "Age | Medicine | Course",
        "3 months to 11 months | Amoxicillin | 5 to 7 days",
        "Back-up prescriptions should be collected only if symptoms worsen or do not improve within three days.",
        "Figure 1. The middle ear and tympanic membrane.",
    ]
    positions = [paragraphs.index(p) for p in expected]
    assert positions == sorted(positions)


def test_spans_and_ids_are_stable(page: Document, check_spans) -> None:
    passages = check_spans(page)
    assert {p.section for p in passages} <= {b.heading for b in page.blocks}
    assert any("Amoxicillin" in p.text for p in passages)
    again = _read(HTML / "guideline_page.html")
    assert (again.id, again.content_hash) == (page.id, page.content_hash)


def test_declared_latin1_is_read_as_windows_1252(check_spans) -> None:
    doc = _read(HTML / "latin1_page.html")
    assert "Café-au-lait spots" in doc.text
    assert "fluid retention – review" in doc.text  # 0x96 is an en dash in windows-1252
    assert doc.id == "latin1-page"  # no DOI: the file name
    assert doc.title == "Oedema in heart failure"
    assert doc.evidence_type is EvidenceType.RESEARCH
    check_spans(doc)


def test_bytes_invalid_in_declared_encoding_name_the_line() -> None:
    with pytest.raises(IngestError) as info:
        _read(HTML / "wrong_encoding.html")
    assert info.value.line == 11
    assert "wrong_encoding.html:11" in str(info.value)
    assert "not valid UTF-8" in str(info.value)


def test_xml_declaration_encoding(tmp_path: Path) -> None:
    path = tmp_path / "leaflet.xhtml"
    path.write_bytes(
        '<?xml version="1.0" encoding="windows-1252"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body>'
        "<p>Keep insulin pens at room temperature \u2013 not in direct sunlight.</p></body></html>".encode("cp1252")
    )
    doc = _read(path)
    assert doc.text == "Keep insulin pens at room temperature \u2013 not in direct sunlight."
    assert doc.id == "leaflet"


def test_navigation_only_page_has_no_main_content() -> None:
    with pytest.raises(IngestError, match="no main content") as info:
        _read(HTML / "navigation_only.html")
    assert "navigation_only.html" in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "blank.html"
    path.write_bytes(b"  \n")
    with pytest.raises(IngestError, match=r"blank\.html: file is empty"):
        _read(path)


def test_largest_article_is_the_content_root(tmp_path: Path) -> None:
    body = (
        "<div class='menu'><a href='/'>Menu link</a></div>"
        "<article><h2>Teaser</h2><p>Short teaser.</p></article>"
        "<article><h1>Gout flares</h1><p>Start colchicine or an NSAID early in a flare and continue until it"
        " settles.</p><p>Consider urate-lowering therapy after recurrent flares.</p></article>"
    )
    doc = _read(_page(tmp_path, body, "<title>Gout flares - Example Clinic</title>"))
    assert "Teaser" not in doc.text and "Menu link" not in doc.text
    assert doc.text.startswith("Gout flares\n\nStart colchicine")
    assert doc.title == "Gout flares - Example Clinic"


def test_body_fallback_reads_loose_text_and_nested_lists(tmp_path: Path) -> None:
    body = (
        "<div>Loose text in a div <b>with bold</b> words.<div>Nested block.</div>Tail text after it.</div>"
        "<ul><li>Item one<ul><li>Sub-item</li></ul></li></ul><dl><dt>HbA1c</dt><dd>Glycated haemoglobin</dd></dl>"
        "<pre>dose   =  5 mg</pre><a href='#'><div>Card title</div></a>"
    )
    doc = _read(_page(tmp_path, body))
    assert doc.text.split("\n\n") == [
        "Loose text in a div with bold words.",
        "Nested block.",
        "Tail text after it.",
        "Item one",
        "Sub-item",
        "HbA1c",
        "Glycated haemoglobin",
        "dose = 5 mg",
        "Card title",
    ]
    assert doc.title == ""  # no metadata, no <title>, no <h1>


def test_title_falls_back_to_h1_and_strips_site_name(tmp_path: Path) -> None:
    doc = _read(_page(tmp_path, "<main><h1>Shingles</h1><p>Antivirals help most within 72 hours.</p></main>"))
    assert doc.title == "Shingles"
    head = '<title>Shingles | Example Clinic</title><meta property="og:site_name" content="Example Clinic">'
    doc = _read(_page(tmp_path, "<main><p>Antivirals help most within 72 hours.</p></main>", head))
    assert doc.title == "Shingles"
    assert doc.source == "Example Clinic"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ('<meta name="citation_article_type" content="Systematic Review">', EvidenceType.SYSTEMATIC_REVIEW),
        ('<meta name="citation_article_type" content="Original Article">', EvidenceType.RESEARCH),
        ('<meta name="bedside:type" content="consumer-health">', EvidenceType.CONSUMER_HEALTH),
    ],
)
def test_evidence_type_from_meta(tmp_path: Path, head: str, expected: EvidenceType) -> None:
    doc = _read(_page(tmp_path, "<main><p>Some clinical text.</p></main>", head))
    assert doc.evidence_type is expected


def test_unknown_bedside_type_is_an_error(tmp_path: Path) -> None:
    path = _page(tmp_path, "<main><p>Text.</p></main>", '<meta name="bedside:type" content="guidline">')
    with pytest.raises(IngestError, match="unknown evidence type 'guidline'"):
        _read(path)


def test_dublin_core_metadata(tmp_path: Path) -> None:
    head = (
        '<meta name="dc.identifier" content="https://doi.org/10.5555/dc.77">'
        '<meta name="dc.date" content="2019-05-01"><meta property="og:url" content="https://example.org/dc">'
        '<meta name="dc.creator" content="Tanaka H">'
    )
    doc = _read(_page(tmp_path, "<main><p>Text.</p></main>", head))
    assert (doc.id, doc.doi, doc.year, doc.url, doc.authors) == (
        "doi:10.5555/dc.77",
        "10.5555/dc.77",
        2019,
        "https://example.org/dc",
        ("Tanaka H",),
    )


def test_read_path_detects_html() -> None:
    (doc,) = list(read_path(HTML / "guideline_page.html"))
    assert isinstance(doc, Document) and doc.id == "doi:10.5555/ehg.2022.aom"


def test_line_breaks_and_blocks_inside_cells_keep_words_apart(tmp_path: Path) -> None:
    body = (
        "<main><h2>Acute<br>asthma</h2><p>Give oxygen<br/>to keep saturation 94-98%.</p>"
        "<table><tr><td><p>Peak flow</p><p>33-50%</p></td><td>Moderate<sup>a</sup></td></tr></table></main>"
    )
    doc = _read(_page(tmp_path, body))
    assert doc.text.split("\n\n") == [
        "Acute asthma",
        "Give oxygen to keep saturation 94-98%.",
        "Peak flow 33-50% | Moderatea",
    ]
