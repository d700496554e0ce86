"""The extractive composer on hand-made evidence: every statement is a source's own sentence."""

from bedside.answer.evidence import EvidencePassage
from bedside.answer.extractive import compose
from bedside.answer.question import plan
from bedside.model import DocumentId, EvidenceType, PassageId

IRON = (
    "Iron deficiency anaemia in adults. Oral iron is first-line treatment for iron deficiency anaemia in adults. "
    "Give one tablet of ferrous sulfate 200 mg once daily for iron deficiency anaemia. "
    "Check the haemoglobin response to iron within 4 weeks of starting treatment. "
    "Do not give oral and intravenous iron together. "
    "Continue iron for 3 months after the haemoglobin normalises."
)
B12 = (
    "Treat vitamin B12 deficiency with hydroxocobalamin 1 mg intramuscularly three times a week for 2 weeks. "
    "In vitamin B12 deficiency, never give folic acid alone before vitamin B12 replacement has started. "
    "Serum cobalamin below 148 pmol/L supports vitamin B12 deficiency."
)
DUPLICATE = "Check the haemoglobin response to iron within 4 weeks of starting treatment for iron deficiency."
PREGNANCY = "In pregnancy, iron deficiency anaemia is treated with oral iron 40-80 mg of elemental iron daily."
OFF_TOPIC = "Bicycle tyres should be inflated to the pressure printed on the sidewall before every ride."


def _passage(doc: str, text: str, etype=EvidenceType.GUIDELINE, year=2021) -> EvidencePassage:
    return EvidencePassage(
        passage_id=PassageId(f"{doc}#100"),
        document_id=DocumentId(doc),
        text=text,
        start=100,
        title=f"Title {doc}",
        evidence_type=etype,
        year=year,
        source="Society",
    )


def _evidence():
    return [
        _passage("iron", IRON),
        _passage("b12", B12),
        _passage("review", DUPLICATE, EvidenceType.SYSTEMATIC_REVIEW, 2019),
        _passage("preg", PREGNANCY),
    ]


def test_statements_are_sources_own_sentences_with_exact_spans():
    evidence = _evidence()
    by_id = {p.passage_id: p for p in evidence}
    answer = compose(plan("What is the treatment for concurrent iron and vitamin B12 deficiency?"), evidence)
    assert not answer.insufficient_evidence
    assert answer.bottom_line
    statements = answer.statements()
    assert len(statements) >= 5
    for s in statements:
        assert s.citations, "no statement without a citation"
        assert len(s.citations) == len({p.document_id for p in s.provenance})
        first = s.provenance[0]
        p = by_id[first.passage_id]
        assert p.text[first.start - p.start : first.end - p.start] == s.text  # the shown text is this span
        for prov in s.provenance[1:]:  # a near-duplicate from another source: that source's own sentence
            other = by_id[prov.passage_id]
            assert prov.document_id != first.document_id
            assert 0 <= prov.start - other.start < prov.end - other.start <= len(other.text)
    numbers = [n for s in statements for n in s.citations]
    first_seen = list(dict.fromkeys(numbers))
    assert first_seen == sorted(first_seen), "references are numbered in order of first citation"
    assert [r.number for r in answer.references] == list(range(1, len(answer.references) + 1))


def test_warnings_are_collected_near_the_top():
    answer = compose(plan("What is the treatment for concurrent iron and vitamin B12 deficiency?"), _evidence())
    headings = [s.heading for s in answer.sections]
    assert headings[0] == "Critical warnings"
    warnings = [s.text for s in answer.sections[0].statements]
    assert "Do not give oral and intravenous iron together." in warnings
    assert any(w.startswith("In vitamin B12 deficiency, never give folic acid alone") for w in warnings)


def test_near_duplicates_from_two_sources_become_one_bullet_citing_both():
    answer = compose(plan("How should the response to iron treatment be monitored?"), _evidence())
    monitored = [s for s in answer.statements() if "haemoglobin response" in s.text]
    assert len(monitored) == 1
    assert len(monitored[0].citations) == 2
    assert {p.document_id for p in monitored[0].provenance} == {"iron", "review"}


def test_other_populations_go_to_their_own_section():
    answer = compose(plan("What is the treatment for iron deficiency anaemia?"), _evidence())
    special = {s.heading: s for s in answer.sections}.get("Special populations")
    assert special is not None and any("pregnancy" in s.text for s in special.statements)
    asked = compose(plan("What is the treatment for iron deficiency anaemia in pregnancy?"), _evidence())
    assert any(
        "In pregnancy" in s.text
        for s in asked.bottom_line + asked.sections[0].statements + asked.sections[1].statements
    )


def test_off_topic_evidence_gives_insufficient_evidence_and_no_statements():
    answer = compose(plan("How do I treat a snake bite in a dog?"), [_passage("bike", OFF_TOPIC)])
    assert answer.insufficient_evidence
    assert answer.statements() == ()
    assert [r.document_id for r in answer.references] == ["bike"]  # the closest material, shown as such
    assert compose(plan("What is the treatment for gout?"), []).insufficient_evidence


def test_quantitative_sentences_are_preferred():
    answer = compose(plan("What is the dose of hydroxocobalamin for vitamin B12 deficiency?"), _evidence())
    assert "1 mg intramuscularly" in answer.bottom_line[0].text


def test_the_first_provenance_is_always_the_shown_sentence():
    evidence = _evidence()[::-1]  # the duplicate's source now ranks first and gets the lower reference number
    by_id = {p.passage_id: p for p in evidence}
    answer = compose(plan("How should the response to iron treatment be monitored?"), evidence)
    for s in answer.statements():
        first = s.provenance[0]
        p = by_id[first.passage_id]
        assert p.text[first.start - p.start : first.end - p.start] == s.text


def test_the_sections_a_question_asks_for_hold_more_than_the_others():
    """ "Which drug, and how do I monitor it?": the sections for the drug and for monitoring hold up to twelve bullets;
    a section nobody asked for (Critical warnings) stays at five."""
    from bedside.answer.extractive import ExtractiveOptions
    from bedside.answer.focus import Focus

    drugs = (
        "alpha",
        "beta",
        "gamma",
        "delta",
        "epsilon",
        "zeta",
        "eta",
        "theta",
        "iota",
        "kappa",
        "lambda",
        "mu",
        "nu",
        "xi",
    )
    treatment = " ".join(f"Give {d}mab {10 * (i + 1)} mg daily for gout flares." for i, d in enumerate(drugs))
    monitoring = " ".join(f"Monitor {d}mab levels every {i + 2} weeks in gout." for i, d in enumerate(drugs))
    warnings = " ".join(f"Do not give {d}mab with {d}zole in gout." for d in drugs)
    passages = [_passage(f"gout{i}", text) for i, text in enumerate((treatment, monitoring, warnings))]
    answer = compose(
        plan("Which drug for gout flares, and how do I monitor it?"),
        passages,
        ExtractiveOptions(max_statements=40),
        focus=Focus(("gout0", "gout1", "gout2"), ()),
    )
    size = {s.heading: len(s.statements) for s in answer.sections}
    assert size.pop("Critical warnings") == 5
    # monitoring, and the drugs (under "Treatment context" here): twelve each of the thirteen left after the bottom line
    assert sorted(size.values()) == [12, 12]
