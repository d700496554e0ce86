from itertools import pairwise

from bedside.ingest.builder import TextBuilder
from bedside.ingest.chunking import MAX_WORDS, chunk
from bedside.model import Document, DocumentId


def _doc(builder: TextBuilder) -> Document:
    text, blocks = builder.build()
    return Document(id=DocumentId("doc-1"), title="T", text=text, blocks=blocks)


def _sentence(i: int, words: int = 12) -> str:
    return f"Sentence {i} " + " ".join(f"word{j}" for j in range(words - 3)) + " end."


def test_passages_are_exact_spans_within_size_bounds():
    b = TextBuilder()
    for s in range(4):
        b.heading(f"Section {s}", 2)
        b.paragraph(" ".join(_sentence(i) for i in range(25)))
    doc = _doc(b)
    passages = chunk(doc)
    assert len(passages) >= 4
    for p in passages:
        assert doc.text[p.start : p.end] == p.text
        assert 60 <= len(p.text.split()) <= MAX_WORDS
        assert p.id == f"doc-1#{p.start}"
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    assert all(a.end <= b.start for a, b in pairwise(passages))


def test_passage_never_spans_two_large_sections():
    b = TextBuilder()
    b.heading("Diagnosis")
    b.paragraph(" ".join(_sentence(i) for i in range(8)))  # ~96 words
    b.heading("Treatment")
    b.paragraph(" ".join(_sentence(i) for i in range(8)))
    passages = chunk(_doc(b))
    assert [p.section for p in passages] == ["Diagnosis", "Treatment"]
    assert "Treatment" not in passages[0].text


def test_short_sections_are_joined_not_left_tiny():
    b = TextBuilder()
    for s in range(10):  # 10 sections of 15 words
        b.heading(f"Part {s}")
        b.paragraph(_sentence(s, 15))
    passages = chunk(_doc(b))
    assert [p.section for p in passages] == ["Part 0", "Part 4"]
    # 4 sections of 15 words (+ 3 inner heading lines of 2 words), then the rest: the 30-word tail joined it.
    assert [len(p.text.split()) for p in passages] == [66, 100]


def test_nested_headings_give_a_path_and_a_long_run_is_windowed():
    b = TextBuilder()
    b.heading("Treatment", 1)
    b.heading("Oral iron", 2)
    b.paragraph(" | ".join(f"cell{i}" for i in range(700)))  # a table flattened without stops
    doc = _doc(b)
    passages = chunk(doc)
    assert passages[0].section == "Treatment > Oral iron"
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    assert all(doc.text[p.start : p.end] == p.text for p in passages)


def test_doses_are_not_split_mid_sentence():
    b = TextBuilder()
    b.paragraph("Give ferric carboxymaltose 20 mg/kg i.v. up to 1000 mg. Recheck in 4 weeks, e.g. by FBC.")
    passages = chunk(_doc(b))
    assert passages[0].text.startswith("Give ferric carboxymaltose 20 mg/kg i.v. up to 1000 mg.")
