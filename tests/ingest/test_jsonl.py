import gzip
import shutil

from bedside.ingest import RecordError, read_path
from bedside.model import EvidenceType


def test_good_records_survive_bad_lines(fixtures):
    items = list(read_path(fixtures / "jsonl" / "corpus.jsonl"))
    docs = [i for i in items if not isinstance(i, RecordError)]
    errors = [str(i.error) for i in items if isinstance(i, RecordError)]
    assert [d.id for d in docs] == ["d1", "d2", "d3", "d9", "d8"]
    assert docs[3].text == "Title-only record about ferritin"
    assert docs[1].year == 2019 and docs[1].evidence_type is EvidenceType.GUIDELINE
    expected = "Offer 40-80 mg of elemental iron daily to pregnant women with iron deficiency."
    assert docs[1].text == expected + "\n\nRecheck haemoglobin after 2-4 weeks."
    assert docs[2].pmid == "12345" and docs[2].evidence_type is EvidenceType.CONSUMER_HEALTH
    assert docs[4].evidence_type is EvidenceType.SYSTEMATIC_REVIEW
    assert len(errors) == 4
    assert any(e.startswith(f"{fixtures / 'jsonl' / 'corpus.jsonl'}:4: invalid JSON") for e in errors)
    assert any(":5: missing field 'id'" in e for e in errors)
    assert any(":6: record has neither 'text' nor 'title'" in e for e in errors)
    assert any(":8: field 'type': unknown evidence type 'blogpost'" in e for e in errors)


def test_gzip_corpus_reads_the_same(fixtures, tmp_path):
    target = tmp_path / "corpus.jsonl.gz"
    with (fixtures / "jsonl" / "corpus.jsonl").open("rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    plain = [d.id for d in read_path(fixtures / "jsonl" / "corpus.jsonl") if not isinstance(d, RecordError)]
    packed = [d.id for d in read_path(target) if not isinstance(d, RecordError)]
    assert plain == packed
