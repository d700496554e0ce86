"""Audience rendering: one verified answer, three readers, the same facts."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from importlib import resources

import pytest

from bedside.answer.audience import (
    AUDIENCES,
    CARE_LEAD,
    DOSE_LEAD,
    URGENT_HEADING,
    answer_texts,
    lead_of,
    render_for,
)
from bedside.answer.plain_language import load_glossary
from bedside.answer.readability import as_sentence, reading_grade
from bedside.errors import InvalidInput
from bedside.model import Answer, AnswerSection, DocumentId, PassageId, Provenance, Statement


def _st(text: str, ref: int, kind: str = "") -> Statement:
    doc = DocumentId(f"doc-{ref}")
    start = 100 * len(text) + ref  # distinct spans, so each statement can be traced through a rendering
    return Statement(text, (ref,), (Provenance(PassageId(f"{doc}#{start}"), doc, start, start + len(text)),), kind)


BOTTOM_LINE = (
    _st(
        "In adults with IDA, combine iron replacement therapy with investigation to find the underlying cause; "
        "in B12 deficiency, replace vitamin B12 before giving folic acid.",
        1,
    ),
)
SECTIONS = {
    "Tests and thresholds": (
        _st(
            "A serum ferritin below 15 µg/L indicates absent iron stores in adults, and a serum ferritin below "
            "30 µg/L generally indicates low body iron stores.",
            1,
        ),
        _st(
            "Anaemia is defined as a haemoglobin concentration below the lower limit of normal for the relevant "
            "population and for the laboratory performing the test.",
            1,
        ),
        _st("Total B12 below 180 ng/L (133 pmol/L) or active B12 below 25 pmol/L indicates vitamin B12 deficiency.", 2),
        _st(
            "Coeliac disease is found in 3–5% of adults with IDA, so routine screening by serology or by small "
            "bowel biopsy at gastroscopy is recommended.",
            1,
        ),
    ),
    "Regimen": (
        _st(
            "Start treatment of IDA with one tablet a day of ferrous sulphate, ferrous fumarate or ferrous gluconate.",
            1,
        ),
        _st(
            "For B12 deficiency without neurological involvement, give hydroxocobalamin 1 mg IM three times a week "
            "for 2 weeks, then 1 mg every 3 months.",
            3,
            "dose",
        ),
        _st(
            "For B12 deficiency with neurological involvement, give hydroxocobalamin 1 mg intramuscularly on "
            "alternate days until there is no further improvement, then 1 mg every 2 months.",
            3,
        ),
        _st(
            "When oral vitamin B12 is offered for deficiency caused by malabsorption, a dose of at least 1 mg a day "
            "is advised.",
            2,
        ),
        _st(
            "Parenteral iron is advised when oral iron is contraindicated, ineffective or not tolerated, or when the "
            "anaemia needs rapid correction.",
            1,
        ),
    ),
    "Monitoring": (
        _st(
            "Check the haemoglobin response during the first 4 weeks of iron replacement therapy; a rise of at "
            "least 10 g/L within 2 weeks is highly suggestive of absolute iron deficiency.",
            1,
        ),
        _st(
            "In people with an eGFR below 30 mL/min/1.73 m2, iron and vitamin B12 deficiency often coexist with "
            "anaemia of chronic kidney disease, so iron studies are interpreted against the lower kidney function.",
            4,
        ),
    ),
    "Critical warnings": (
        _st(
            "Do not give folic acid alone to people with vitamin B12 deficiency, because it can precipitate subacute "
            "combined degeneration of the spinal cord.",
            3,
            "warning",
        ),
        _st(
            "Do not wait for further test results before starting vitamin B12 replacement in people with "
            "neurological symptoms of deficiency.",
            2,
            "warning",
        ),
        _st(
            "Seek urgent medical advice if new numbness, tingling, weakness, unsteadiness or problems with memory "
            "or vision develop.",
            3,
            "warning",
        ),
    ),
    "When to seek care": (
        _st("Severe anaemia can cause breathlessness, chest pain or fainting, which need prompt medical review.", 1),
    ),
}
ANSWER = Answer(
    question="How should combined iron and vitamin B12 deficiency be treated?",
    title="Treating combined iron and vitamin B12 deficiency",
    audience="clinician",
    bottom_line=BOTTOM_LINE,
    sections=tuple(AnswerSection(heading, statements) for heading, statements in SECTIONS.items()),
    references=(),
    insufficient_evidence=False,
)

# A number, with the unit or word that follows it: "1 mg", "30 µg/L", "3–5%", "2 weeks", "1.73 m2".
_QUANTITY = re.compile(r"(?<![\w.,])\d+(?:[.,]\d+)*(?:\s?[%µμA-Za-z][\w/µμ.%]*)?")


def quantities(texts: list[str]) -> Counter[str]:
    """Every number with its unit, as a multiset."""
    return Counter(q.rstrip(".") for text in texts for q in _QUANTITY.findall(text))


def by_provenance(answer: Answer) -> dict[tuple[Provenance, ...], Statement]:
    return {s.provenance: s for s in answer.statements()}


def joined(answer: Answer) -> str:
    return " ".join(answer_texts(answer))


@pytest.fixture(scope="module")
def rendered() -> dict[str, Answer]:
    return {audience: render_for(ANSWER, audience) for audience in AUDIENCES}


def test_the_test_answer_is_realistic() -> None:
    assert len(ANSWER.statements()) >= 10
    assert len(by_provenance(ANSWER)) == len(ANSWER.statements())


def test_clinician_rendering_is_unchanged(rendered: dict[str, Answer]) -> None:
    assert rendered["clinician"] == ANSWER
    assert all(lead_of(s, "clinician") == "" for s in rendered["clinician"].statements())


@pytest.mark.parametrize("audience", ["student", "patient"])
def test_numbers_and_units_survive_every_rendering(rendered: dict[str, Answer], audience: str) -> None:
    before = by_provenance(ANSWER)
    for provenance, statement in by_provenance(rendered[audience]).items():
        assert quantities([statement.text]) == quantities([before[provenance].text]), statement.text
    shown, source = quantities(answer_texts(rendered[audience])), quantities(answer_texts(ANSWER))
    assert shown == source if audience == "student" else not shown - source  # the patient reads a selection


@pytest.mark.parametrize("audience", ["clinician", "student"])
def test_citations_and_provenance_are_identical(rendered: dict[str, Answer], audience: str) -> None:
    before = by_provenance(ANSWER)
    after = by_provenance(rendered[audience])
    assert sorted(after, key=repr) == sorted(before, key=repr)  # nothing dropped, nothing added
    assert all(after[p].citations == before[p].citations for p in before)
    assert rendered[audience].audience == audience
    assert rendered[audience].references == ANSWER.references and rendered[audience].title == ANSWER.title


def test_patient_reads_a_plainer_selection_with_the_same_citations(rendered: dict[str, Answer]) -> None:
    """Nothing added; every red flag and the bottom line kept; fewer, plainer statements; citations unchanged."""
    before, after = by_provenance(ANSWER), by_provenance(rendered["patient"])
    assert set(after) < set(before)
    assert all(after[p].citations == before[p].citations for p in after)
    red_flags = [s for s in ANSWER.statements() if "Seek urgent" in s.text or "Severe anaemia" in s.text]
    assert all(s.provenance in after for s in red_flags)
    assert [s.provenance for s in rendered["patient"].bottom_line] == [s.provenance for s in ANSWER.bottom_line]
    assert rendered["patient"].references == ANSWER.references
    special = ANSWER.sections[2].statements[1]  # about kidney disease: kept only while the section has room
    assert len(after) <= len(before) - 1 or special.provenance in after


def test_student_expands_each_abbreviation_once(rendered: dict[str, Answer]) -> None:
    text = joined(rendered["student"])
    assert text.count("iron deficiency anaemia (IDA)") == 1
    assert text.count("intramuscular (IM)") == 1
    assert text.count("estimated glomerular filtration rate (eGFR)") == 1
    assert text.count("IDA") == 3  # expanded once, then used as written
    assert "(B12)" not in text  # ambiguous in the list (vitamin B12 | cobalamin): left as written


def test_student_keeps_clinician_structure_and_adds_no_glosses(rendered: dict[str, Answer]) -> None:
    student = rendered["student"]
    assert [s.heading for s in student.sections] == [s.heading for s in ANSWER.sections]
    assert load_glossary()["ferritin"] not in joined(student)
    assert all(lead_of(s, "student") == "" for s in student.statements())


def test_student_respects_definitions_already_in_the_answer() -> None:
    answer = replace(
        ANSWER,
        bottom_line=(_st("Iron deficiency anaemia (IDA) is common, and IDA in men needs investigation.", 1),),
        sections=(AnswerSection("Tests", (_st("A full blood count (FBC) and an FBC repeat; PO iron; COVID-19.", 1),)),),
    )
    text = joined(render_for(answer, "student"))
    assert text.startswith("Iron deficiency anaemia (IDA) is common, and IDA in men")
    assert "full blood count (FBC) and an FBC repeat; PO iron; COVID-19." in text  # ambiguous or adds a number


def test_stage_iv_is_a_numeral_not_intravenous() -> None:
    answer = replace(ANSWER, bottom_line=(_st("In stage IV disease, IV iron is preferred.", 1),), sections=())
    assert render_for(answer, "student").bottom_line[0].text == (
        "In stage IV disease, intravenous (IV) iron is preferred."
    )


def test_patient_explains_terms_once_with_the_curated_glossary(rendered: dict[str, Answer]) -> None:
    """Each explanation is a short sentence of its own after the statement that first uses the term."""
    text = joined(rendered["patient"])
    glossary = load_glossary()
    for term in ("serum ferritin", "hydroxocobalamin", "malabsorption", "contraindicated"):
        assert text.count(glossary[term]) == 1, term
    assert text.count(f"Serum ferritin: {glossary['serum ferritin']}.") == 1
    assert f"Intramuscular (IM): {glossary['intramuscular']}." in text
    assert f"Estimated glomerular filtration rate (eGFR): {glossary['estimated glomerular filtration rate']}." in text
    assert text.count("iron deficiency anaemia (IDA)") == 1
    assert f"({glossary['serum ferritin']})" not in text  # not inside the statement's own sentence


def test_patient_headings_are_plain_and_red_flags_come_first(rendered: dict[str, Answer]) -> None:
    patient = rendered["patient"]
    headings = [s.heading for s in patient.sections]
    assert headings[0] == URGENT_HEADING
    assert headings[1:] == ["Tests and results", "Treatment options", "Check-ups and tests", "Important safety points"]
    urgent = [s.provenance for s in patient.sections[0].statements]
    warnings, seek_care = ANSWER.sections[3].statements, ANSWER.sections[4].statements
    assert urgent == [warnings[2].provenance, seek_care[0].provenance]
    safety = [s.provenance for s in patient.sections[-1].statements]
    assert safety and set(safety) <= {warnings[0].provenance, warnings[1].provenance}  # prohibitions stay safety points


def test_patient_frames_doses_with_a_lead_not_a_rewrite(rendered: dict[str, Answer]) -> None:
    patient = by_provenance(rendered["patient"])
    leads = {p: lead_of(patient[p], "patient") for p in patient}
    regimen = [s for s in ANSWER.sections[1].statements if s.provenance in patient]
    assert [leads[s.provenance] for s in regimen] == [CARE_LEAD, DOSE_LEAD, DOSE_LEAD, ""]
    assert not any(s.text.startswith((DOSE_LEAD, CARE_LEAD)) for s in patient.values())
    assert all(
        patient[s.provenance].kind == s.kind
        for s in ANSWER.statements()
        if s.provenance in patient and not leads[s.provenance]
    )


@pytest.mark.parametrize(
    ("text", "lead"),
    [
        ("Amoxicillin 15 mg/kg/day is given in two doses.", DOSE_LEAD),  # a dose per weight and time
        ("Hydroxocobalamin 1 mg is given every 3 months.", DOSE_LEAD),
        ("A ferritin below 30 µg/L confirms iron deficiency.", ""),  # a concentration, not a dose
        ("Nitrofurantoin is unsuitable when eGFR is below 45 mL/min.", ""),  # a clearance
    ],
)
def test_a_dose_lead_only_where_the_statement_gives_a_dose(text: str, lead: str) -> None:
    answer = replace(ANSWER, bottom_line=(_st(text, 1),), sections=())
    assert lead_of(render_for(answer, "patient").bottom_line[0], "patient") == lead


def test_patient_reads_prescriber_instructions_as_advice_for_the_care_team(rendered: dict[str, Answer]) -> None:
    """ "Do not give folic acid alone ..." is the prescriber's to-do, not the patient's; "Seek urgent medical
    advice ..." is the patient's own, and keeps no lead."""
    patient = rendered["patient"]
    for s in patient.statements():
        lead = lead_of(s, "patient")
        if s.text.startswith(("Do not give", "Check the", "Start treatment")):
            assert lead == CARE_LEAD, s.text
        if s.text.startswith("Seek urgent"):
            assert lead == ""


def test_patient_splits_long_sentences_at_clause_boundaries(rendered: dict[str, Answer]) -> None:
    patient = by_provenance(rendered["patient"])
    warning = patient[ANSWER.sections[3].statements[0].provenance].text
    assert warning.startswith("Do not give folic acid alone to people with vitamin B12 deficiency. This is because")
    monitoring = patient[ANSWER.sections[2].statements[0].provenance].text
    assert "iron replacement therapy. A rise of at least 10 g/L within 2 weeks is a strong sign of" in monitoring


@pytest.mark.parametrize(
    "text",
    [
        "If the ferritin is below 30 µg/L despite treatment for 3 months, then check adherence and absorption.",
        "Options include: ferrous sulphate 200 mg daily; ferrous fumarate 210 mg daily; ferrous gluconate 300 mg.",
        "Short sentence; kept whole.",
    ],
)
def test_patient_does_not_split_where_meaning_could_change(text: str) -> None:
    answer = replace(ANSWER, bottom_line=(_st(text, 1),), sections=())
    shown = render_for(answer, "patient").bottom_line[0].text
    own = _EXPLANATIONS.sub("", shown)  # the glossary's explanation sentences that follow the statement
    assert ". " not in own.replace("µg/L", "")


_EXPLANATIONS = re.compile(r"(?: [A-Z][\w ()-]*: [^.]*\.)+$")


def test_patient_substitutions_are_plain_and_keep_names() -> None:
    answer = replace(
        ANSWER,
        bottom_line=(_st("Administer approximately 100 mg prior to surgery per the Gastrointestinal Society.", 1),),
        sections=(),
    )
    text = render_for(answer, "patient").bottom_line[0].text
    assert text == "Give about 100 mg before surgery per the Gastrointestinal Society."


def test_us_spellings_are_glossed_too() -> None:
    answer = replace(ANSWER, bottom_line=(_st("Hemoglobin is low in anemia.", 1),), sections=())
    text = render_for(answer, "patient").bottom_line[0].text
    glossary = load_glossary()
    assert text == f"Hemoglobin is low in anemia. Hemoglobin: {glossary['haemoglobin']}. Anemia: {glossary['anaemia']}."


def test_patient_rendering_reads_at_a_lower_grade(rendered: dict[str, Answer]) -> None:
    clinician = reading_grade(answer_texts(rendered["clinician"]))
    patient = reading_grade(answer_texts(rendered["patient"]))
    assert patient < clinician - 1.0, (clinician, patient)


@pytest.mark.slow
def test_textstat_agrees_that_the_patient_rendering_reads_easier(rendered: dict[str, Answer]) -> None:
    """The built-in grade (what bedside uses at run time) against textstat's, the reference (a test dependency)."""
    textstat = pytest.importorskip("textstat")

    def grade(answer: Answer) -> float:
        return float(textstat.flesch_kincaid_grade(" ".join(as_sentence(t) for t in answer_texts(answer))))

    clinician, patient = grade(rendered["clinician"]), grade(rendered["patient"])
    assert patient < clinician - 1.0, (clinician, patient)
    for audience in ("clinician", "patient"):
        assert abs(reading_grade(answer_texts(rendered[audience])) - grade(rendered[audience])) < 3.0


def test_reading_grade_of_nothing_is_zero() -> None:
    assert reading_grade([]) == 0.0
    assert reading_grade(["   "]) == 0.0


def test_rendering_is_repeatable(rendered: dict[str, Answer]) -> None:
    assert render_for(ANSWER, "patient") == rendered["patient"]
    assert render_for(ANSWER, " Patient ") == rendered["patient"]


def test_unknown_audience_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="clinician, student, patient"):
        render_for(ANSWER, "layperson")


def test_glossary_file_is_well_formed() -> None:
    text = resources.files("bedside.data").joinpath("glossary.tsv").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert len(rows) >= 150
    terms = []
    for row in rows:
        term, explanation = row.split("\t")  # exactly one tab
        assert term == term.strip() and explanation == explanation.strip(), row
        assert 3 <= len(explanation.split()) <= 12, row
        assert not re.search(r"(?<![\w])\d", explanation), row  # glosses never add a number
        assert not re.search(r"[()\[\];:]", explanation), row  # nor brackets, or break a sentence
        terms.append(term.lower())
    assert len(terms) == len(set(terms))
    assert len(load_glossary()) == len(rows)  # no UK/US spelling duplicates either
