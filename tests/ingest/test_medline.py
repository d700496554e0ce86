import subprocess
import sys
import textwrap

import pytest

from bedside.errors import IngestError
from bedside.ingest import RecordError, chunk, read_path
from bedside.model import EvidenceType


def test_efetch_file(fixtures):
    docs = list(read_path(fixtures / "medline" / "pubmed_efetch.xml"))
    assert [d.id for d in docs] == ["90000001", "90000002", "90000003", "90000004"]
    trial, review, guideline, cohort = docs
    assert trial.title.startswith("Oral versus intravenous iron")
    assert trial.source == "Journal of Example Haematology"
    assert trial.year == 2023
    assert trial.authors == ("Okafor A", "Lindqvist PJ", "Example Iron Trial Group")
    assert trial.doi == "10.9999/jeh.2023.0041"
    assert trial.evidence_type is EvidenceType.RANDOMIZED_TRIAL
    assert "Anemia, Iron-Deficiency" in trial.topics
    assert [b.heading for b in trial.blocks] == ["Background", "Methods", "Results", "Conclusions"]
    assert "(p<0.001)" in trial.text
    results = trial.blocks[2]
    assert trial.text[results.start : results.end].startswith("At 12 weeks haemoglobin rose by 18 g/L")
    assert review.evidence_type is EvidenceType.SYSTEMATIC_REVIEW
    assert review.year == 2019  # from MedlineDate "2019 Nov-Dec"
    assert review.title.startswith("Vitamin B12 and iron deficiency")  # inline markup flattened
    assert guideline.evidence_type is EvidenceType.GUIDELINE
    assert guideline.text == guideline.title  # no abstract: the title is the text
    assert cohort.evidence_type is EvidenceType.OBSERVATIONAL  # from MeSH design terms
    for doc in docs:
        for p in chunk(doc):
            assert doc.text[p.start : p.end] == p.text


def test_truncated_file_keeps_earlier_articles_and_names_the_line(fixtures):
    got = []
    with pytest.raises(IngestError) as info:
        for item in read_path(fixtures / "medline" / "truncated.xml"):
            got.append(item)
    assert "truncated.xml:" in str(info.value)
    assert "malformed XML" in str(info.value)
    assert info.value.line is not None


def test_article_without_pmid_is_a_record_error(fixtures):
    items = list(read_path(fixtures / "medline" / "missing_pmid.xml"))
    errors = [i for i in items if isinstance(i, RecordError)]
    assert len(items) == 4 and len(errors) == 1
    assert "article without a PMID" in str(errors[0].error)


@pytest.mark.slow
def test_large_file_is_streamed_in_constant_memory(tmp_path):
    """A ~60 MB baseline-like file is read with far less memory than a parsed tree would need."""
    article = (
        "<PubmedArticle><MedlineCitation><PMID>{n}</PMID><Article><Journal><JournalIssue><PubDate><Year>2020"
        "</Year></PubDate></JournalIssue><Title>J</Title></Journal><ArticleTitle>Title {n}</ArticleTitle>"
        "<Abstract><AbstractText>"
        + "Iron deficiency is common in this cohort of adults. " * 20
        + "</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>\n"
    )
    path = tmp_path / "baseline.xml"
    with path.open("w") as f:
        f.write("<?xml version='1.0'?>\n<PubmedArticleSet>\n")
        for n in range(1, 50_001):
            f.write(article.format(n=n))
        f.write("</PubmedArticleSet>\n")
    assert path.stat().st_size > 50_000_000
    script = textwrap.dedent(
        f"""
        import resource
        from pathlib import Path
        from bedside.ingest import read_path
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        count = sum(1 for _ in read_path(Path({str(path)!r})))
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(count, (after - before) // 1024)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) == 50_000
    assert int(out[1]) < 40, f"peak memory grew by {out[1]} MB"
