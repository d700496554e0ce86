"""PMC / JATS full-text XML reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedside.errors import IngestError
from bedside.ingest.jats import read_jats
from bedside.ingest.readers import RecordError, read_path
from bedside.model import Document, EvidenceType

JATS = Path(__file__).resolve().parent.parent / "fixtures" / "jats"


def _read(path: Path) -> list[Document | RecordError]:
    with path.open("rb") as fh:
        return list(read_jats(fh, str(path)))


@pytest.fixture(scope="module")
def article() -> Document:
    (doc,) = _read(JATS / "pmc_article.xml")
    assert isinstance(doc, Document)
    return doc


def test_metadata_from_front_matter(article: Document) -> None:
    assert article.id == "PMC9990001"
    assert article.doi == "10.5555/jcpr.2023.0142"
    assert article.pmid == "39990001"
    assert article.title.startswith("Early versus delayed mobilisation after hip fracture surgery")
    assert not article.title.endswith("*"), "footnote markers are not part of the title"
    assert article.source == "Journal of Clinical Practice Research"
    assert article.year == 2023  # the epub date wins over the 2024 collection date
    assert article.authors == ("Okafor AN", "Lindqvist ME", "Hip Recovery Trial Collaborators")  # no editor
    assert article.topics == ("hip fracture", "early mobilisation", "rehabilitation", "older adults")
    assert article.evidence_type is EvidenceType.RANDOMIZED_TRIAL  # from the subject heading
    assert article.url == "https://pmc.ncbi.nlm.nih.gov/articles/PMC9990001/"
    assert article.format == "jats"
    assert ("article_type", "research-article") in article.extra


def test_nested_sections_give_heading_paths(article: Document) -> None:
    headings = [b.heading for b in article.blocks]
    assert headings[:4] == [
        "Abstract > Background",
        "Abstract > Methods",
        "Abstract > Results",
        "Abstract > Conclusions",
    ]
    assert "Methods > Participants" in headings
    assert "Methods > 2.2 Interventions" in headings  # the section label is kept
    assert "Methods > 2.2 Interventions > Analgesia protocol" in headings
    analgesia = next(b for b in article.blocks if b.heading.endswith("Analgesia protocol"))
    assert article.text[analgesia.start : analgesia.end].startswith("All participants received regular paracetamol")


def test_lists_tables_and_figures_become_paragraphs(article: Document) -> None:
    paragraphs = article.text.split("\n\n")
    assert "pathological fractures or multiple trauma;" in paragraphs
    assert "end-of-life care plans at the time of screening." in paragraphs
    assert "Table 1. Baseline characteristics of participants." in paragraphs
    assert "Characteristic | Early (n = 206) | Delayed (n = 206)" in paragraphs
    assert "Age, mean (SD), years | 82.4 (6.9) | 81.9 (7.2)" in paragraphs
    assert "SD, standard deviation." in paragraphs
    assert (
        "Figure 1. Flow of participants through the trial. Numbers screened, randomised and analysed in each group."
        in paragraphs
    )
    results = next(b for b in article.blocks if b.heading == "Results")
    assert "82.4 (6.9)" in article.text[results.start : results.end]


def test_inline_markup_stays_in_its_sentence(article: Document) -> None:
    assert "in older adults [1,2]. Most patients" in article.text
    assert "shortens length of stay, but randomised evidence is limited." in article.text
    assert "with the dose adjusted to a body weight below 50 kg where relevant." in article.text


@pytest.mark.parametrize(
    "noise",
    [
        "A reference title that must not be indexed",  # ref-list
        "Second reference text",
        "ward nursing staff",  # acknowledgements in <back>
        "Trial registration placeholder",  # back fn-group
        "Graphical abstract placeholder",
        "inline footnote",
        "Trial protocol",  # supplementary material
        "\\mathrm",  # TeX annotation inside MathML
        "δ",  # display formula
        "corresponding.author@example.org",
        "Creative Commons",
    ],
)
def test_back_matter_and_formula_noise_are_left_out(article: Document, noise: str) -> None:
    assert noise not in article.text


def test_spans_are_exact(article: Document, check_spans) -> None:
    passages = check_spans(article)
    assert {p.section for p in passages} <= {b.heading for b in article.blocks}
    assert any("pathological fractures" in p.text for p in passages)


def test_ids_and_content_are_stable_across_reads(article: Document) -> None:
    (again,) = _read(JATS / "pmc_article.xml")
    assert isinstance(again, Document)
    assert again.id == article.id
    assert again.content_hash == article.content_hash


def test_article_set_yields_documents_and_record_errors(check_spans) -> None:
    path = JATS / "pmc_articleset.xml"
    review, bad, case = _read(path)
    assert isinstance(review, Document) and isinstance(case, Document)
    assert review.id == "doi:10.5555/rgm.2021.77"  # no PMCID: the DOI names it
    assert review.url == "https://doi.org/10.5555/rgm.2021.77"
    assert review.evidence_type is EvidenceType.REVIEW
    assert review.year == 2021  # electronic publication before print (JATS 1.1 date attributes)
    assert review.authors == ("Haddad SK",)
    # body text before the first section must not be filed under the abstract
    assert [b.heading for b in review.blocks] == ["Abstract", "Main text", "Oral replacement"]
    check_spans(review)

    assert isinstance(bad, RecordError)
    assert bad.error.line == 28 and bad.error.path == str(path)
    assert "no PMCID, DOI or PMID" in str(bad.error) and "pmc_articleset.xml:28" in str(bad.error)

    assert case.id == "39990002" and case.pmid == "39990002"
    assert case.url == "https://pubmed.ncbi.nlm.nih.gov/39990002/"
    assert case.evidence_type is EvidenceType.CASE_REPORT
    assert case.year == 2019


def test_read_path_detects_jats() -> None:
    docs = list(read_path(JATS / "pmc_article.xml"))
    assert [d.id for d in docs if isinstance(d, Document)] == ["PMC9990001"]


def test_truncated_xml_names_file_and_line() -> None:
    path = JATS / "truncated.xml"
    last_line = path.read_bytes().count(b"\n") + 1
    with pytest.raises(IngestError) as info:
        _read(path)
    assert info.value.line == last_line
    assert f"truncated.xml:{last_line}" in str(info.value)
    assert "malformed XML" in str(info.value)


def test_mismatched_tag_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.nxml"
    path.write_text('<?xml version="1.0"?>\n<article>\n<front>\n<article-meta></front>\n</article>\n')
    with pytest.raises(IngestError) as info:
        _read(path)
    assert info.value.line == 4
    assert "broken.nxml:4" in str(info.value)


def test_undefined_entity_is_reported_and_dtd_entities_are_kept(tmp_path: Path) -> None:
    body = (
        '<article><front><article-meta><article-id pub-id-type="pmc">77</article-id>'
        "<abstract><p>Give 5&nbsp;mg daily.</p></abstract></article-meta></front></article>"
    )
    bare = tmp_path / "bare.xml"
    bare.write_text(f'<?xml version="1.0"?>\n{body}\n')
    with pytest.raises(IngestError, match="Entity 'nbsp' not defined") as info:
        _read(bare)
    assert info.value.line == 2

    with_dtd = tmp_path / "dtd.xml"
    with_dtd.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange'
        f' DTD v1.3 20210610//EN" "JATS-archivearticle1-3.dtd">\n{body}\n'
    )
    (doc,) = _read(with_dtd)
    assert isinstance(doc, Document)
    assert doc.id == "PMC77"
    assert "Give 5 mg daily." in doc.text


def test_lone_article_without_ids_raises(tmp_path: Path) -> None:
    path = tmp_path / "anonymous.xml"
    path.write_text("<article><front><article-meta><abstract><p>Text.</p></abstract></article-meta></front></article>")
    with pytest.raises(IngestError, match="no PMCID, DOI or PMID") as info:
        _read(path)
    assert "anonymous.xml" in str(info.value)


def test_article_without_text_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty_article.xml"
    path.write_text(
        '<article><front><article-meta><article-id pub-id-type="doi">10.5555/x</article-id>'
        "</article-meta></front></article>"
    )
    with pytest.raises(IngestError, match="neither abstract nor body"):
        _read(path)


def test_file_without_articles_and_empty_file(tmp_path: Path) -> None:
    other = tmp_path / "other.xml"
    other.write_text('<?xml version="1.0"?>\n<record><title>Not JATS</title></record>\n')
    with pytest.raises(IngestError, match="no <article> elements"):
        _read(other)
    empty = tmp_path / "empty.nxml"
    empty.write_bytes(b"")
    with pytest.raises(IngestError, match="empty"):
        list(read_path(empty))
