"""The composer answers the question asked: from the documents about its problem, for its patient, one bottom-line
sentence per part, no duplicates; and it abstains when no document is about the problem.

A small knowledge base written for these tests (not the starter digests, not the dev questions)."""

from pathlib import Path

import pytest

from bedside import Bedside
from bedside.answer.parts import parts_of
from bedside.config import load_settings

DOCS = {
    "gout": """---
title: Gout flares and urate lowering
type: guideline
year: 2022
topics: [gout, gout flare, colchicine, allopurinol, serum urate]
---
# Gout flares and urate lowering

## Treatment

- For a gout flare, give colchicine 500 micrograms two to four times a day until the flare settles.
- Start allopurinol at 100 mg daily and raise it every 4 weeks to reach the urate target.
- The serum urate target during allopurinol treatment is below 360 micromol/L.
- Offer prophylaxis with low-dose colchicine for 6 months when starting allopurinol.
""",
    "kidney": """---
title: Chronic kidney disease
type: guideline
year: 2023
topics: [chronic kidney disease, CKD, eGFR, albuminuria]
---
# Chronic kidney disease

## Treatment

- In chronic kidney disease, measure eGFR and urine albumin at least once a year.
- Offer an SGLT2 inhibitor to adults with chronic kidney disease and albuminuria.
- In chronic kidney disease, a gout flare is best treated with colchicine at a reduced dose rather than an NSAID.
- Blood pressure in chronic kidney disease is treated to a systolic target below 120 mmHg.
""",
    "ida": """---
title: Iron deficiency anaemia in adults
type: guideline
year: 2021
topics: [iron deficiency anaemia, IDA, ferritin, oral iron, ferrous sulphate]
---
# Iron deficiency anaemia in adults

## Treatment

- In adults with iron deficiency anaemia, offer one tablet of ferrous sulphate a day.
- Continue oral iron for 3 months after the haemoglobin has returned to normal.
- A serum ferritin below 15 micrograms per litre confirms iron deficiency in adults.

## Pregnancy

- Pregnant women with iron deficiency anaemia take oral iron at a higher dose in the second and third trimesters.
""",
    "ida-pregnancy": """---
title: Iron deficiency anaemia in pregnancy
type: guideline
year: 2020
topics: [iron deficiency anaemia, IDA, anaemia in pregnancy, ferritin, oral iron]
---
# Iron deficiency anaemia in pregnancy

## Treatment

- Offer 40 to 80 mg of elemental iron a day to pregnant women with iron deficiency anaemia.
- In pregnancy, check the haemoglobin again 2 to 3 weeks after starting oral iron.
- Consider intravenous iron from the second trimester when oral iron is not tolerated.
""",
    "ida-restated": """---
title: Iron deficiency anaemia, a second view
type: review
year: 2019
topics: [iron deficiency anaemia, ferritin]
---
# Iron deficiency anaemia, a second view

## Treatment

- Continue oral iron for 3 months after the haemoglobin has returned to normal, to refill the stores.
- Oral iron is cheap and effective for most adults with iron deficiency anaemia.
""",
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory):
    root: Path = tmp_path_factory.mktemp("focus")
    for name, text in DOCS.items():
        (root / f"{name}.md").write_text(text, encoding="utf-8")
    settings = load_settings(data_dir=root / "data", starter_kb=False, embedder="hashing")
    with Bedside(settings=settings) as b:
        report = b.ingest([root])
        assert report.added == len(DOCS) and not report.failed
        yield b


def _docs(answer) -> set[str]:
    return {p.document_id for s in answer.statements() for p in s.provenance}


def test_the_answer_draws_on_the_document_about_the_problem(kb):
    answer = kb.ask("60M with CKD stage 3 and a gout flare since yesterday. What do I treat the flare with?")
    assert not answer.insufficient_evidence
    assert {p.document_id for s in answer.bottom_line for p in s.provenance} == {"gout"}
    for s in answer.statements():
        if s.provenance[0].document_id == "kidney":
            assert "gout" in s.text.lower(), "another document adds only sentences that name the problem"


def test_a_question_about_no_document_abstains_and_states_nothing(kb):
    for question in (
        "Acute pyelonephritis in a 30-year-old woman: which antibiotic and for how long?",
        "Dexamethasone dose for a 3-year-old with croup?",
    ):
        answer = kb.ask(question)
        assert answer.insufficient_evidence and answer.statements() == (), question


def test_a_detailed_vignette_on_a_covered_problem_is_answered(kb):
    answer = kb.ask(
        "71M, 82 kg, on ramipril and bisoprolol, third gout flare this year, eGFR 64. Colchicine dose for the flare?"
    )
    assert not answer.insufficient_evidence
    assert "500 micrograms" in answer.bottom_line[0].text


def test_the_patients_population_leads_and_another_is_never_offered(kb):
    pregnant = kb.ask("29-year-old, 24 weeks pregnant, ferritin 9. How much oral iron?")
    assert "40 to 80 mg" in pregnant.bottom_line[0].text
    assert _docs(pregnant) <= {"ida-pregnancy"}  # the guideline for her population, not the general one
    man = kb.ask("45M, ferritin 9, iron deficiency anaemia. How much oral iron?")
    assert "ida-pregnancy" not in _docs(man)
    assert all("pregnan" not in s.text.lower() for s in man.statements())


def test_each_part_of_the_question_gets_its_own_bottom_line_sentence(kb):
    answer = kb.ask("Starting allopurinol in gout: what starting dose, and what urate target should we reach?")
    bottom = [s.text for s in answer.bottom_line]
    assert len(bottom) == 2
    assert any("100 mg" in t for t in bottom) and any("360 micromol/L" in t for t in bottom)


def test_the_same_fact_from_two_sources_is_one_bullet_citing_both(kb):
    answer = kb.ask("How long should oral iron be continued in iron deficiency anaemia?")
    continuing = [s for s in answer.statements() if s.text.startswith("Continue oral iron for 3 months")]
    assert len(continuing) == 1
    assert {p.document_id for p in continuing[0].provenance} == {"ida", "ida-restated"}
    assert len(continuing[0].citations) == 2


def test_a_yes_no_question_the_sources_do_not_decide_is_framed_as_such(kb):
    from bedside.answer.audience import INDIRECT_LEAD, lead_of
    from bedside.answer.render import to_markdown

    decided = kb.ask("Should I offer an SGLT2 inhibitor to an adult with chronic kidney disease and albuminuria?")
    assert decided.bottom_line[0].text.startswith("Offer an SGLT2 inhibitor")
    assert lead_of(decided.bottom_line[0], "clinician") == ""
    undecided = kb.ask("Does allopurinol lower the risk of kidney stones in gout?")
    first = undecided.bottom_line[0]
    assert lead_of(first, "clinician") == INDIRECT_LEAD and first.to_dict()["indirect"] is True
    assert f"**{INDIRECT_LEAD} " in to_markdown(undecided)  # a frame of bedside's words, no fact of its own


@pytest.mark.parametrize(
    ("question", "decisions"),
    [
        ("Alteplase dose, and what BP do I need before and after giving it?", ["dose", "threshold"]),
        ("Which antibiotic and how long?", ["choice", "duration"]),
        (
            "Is this AKI, what do I do with her tablets, and does she need a renal ultrasound?",
            ["diagnosis", "choice", "yes-no"],
        ),
        ("72F, AF, eGFR 40. Apixaban dose?", ["dose"]),
        ("On denosumab for 4 years. Is it OK to just stop?", ["yes-no"]),
        ("Is it safe to give in pregnancy, and is she anaemic?", ["yes-no", "diagnosis"]),
    ],
)
def test_a_question_is_cut_into_the_parts_it_asks(question, decisions):
    assert [p.decision for p in parts_of(question)] == decisions


def test_a_medline_records_check_tags_say_whom_it_applies_to():
    from bedside.answer.applicability import Fit, fit
    from bedside.answer.patient import patient_of
    from bedside.answer.topics import subject_of
    from bedside.model import Document, DocumentId

    def record(*tags: str) -> Document:
        return Document(
            DocumentId("pmid"),
            "Nebulised adrenaline for croup: a randomised trial",
            "text",
            topics=tags,
            format="medline",
        )

    children = subject_of(record("Croup", "Epinephrine", "Humans", "Child, Preschool", "Infant", "Male"))
    assert fit(children.population, patient_of("45M with stridor")) is Fit.CONFLICT
    assert fit(children.population, patient_of("2-year-old with stridor")) is Fit.APPLIES
    older = subject_of(record("Croup", "Humans", "Aged", "Aged, 80 and over"))
    assert older.population.age_min == 65.0
    mixed = subject_of(record("Croup", "Humans", "Child", "Adult"))
    assert mixed.population.age_min is None and mixed.population.age_max is None
    pregnant = subject_of(record("Asthma", "Humans", "Pregnancy", "Adult"))
    assert fit(pregnant.population, patient_of("62M with asthma")) is Fit.CONFLICT
    digest = Document(DocumentId("d"), "Pulmonary embolism", "text", topics=("pulmonary embolism", "pregnancy"))
    assert subject_of(digest).population.general  # a digest's topic names a special population it covers


def test_one_letter_tells_a_subject_apart():
    """Hepatitis B is not hepatitis C, though their names differ by a letter and HBV expands like HCV."""
    from bedside.answer.candidates import terms_of
    from bedside.answer.topics import aboutness, subject_of, term_weights
    from bedside.model import Document, DocumentId

    hcv = subject_of(Document(DocumentId("hcv"), "Hepatitis C virus infection", "text", topics=("hepatitis C", "HCV")))
    weights = term_weights([hcv])
    assert aboutness(terms_of("45M, HBsAg positive, HBV DNA 28,000 IU/mL. Tenofovir?"), hcv, weights).score == 0
    assert aboutness(terms_of("HCV RNA positive, treatment-naive. Which regimen?"), hcv, weights).score > 0


def test_a_vignette_naming_only_comorbidities_follows_the_passages_retrieval_ranks_first():
    """ "62M with chronic kidney disease, on allopurinol: do I go up?": the kidney guideline is named, but only as the
    patient's background; the passages retrieval puts first (the gout guideline's) say what is asked about. When the
    question's ask names the kidney disease itself, its guideline stays in focus whatever retrieval says."""
    from bedside.answer.candidates import terms_of
    from bedside.answer.focus import focus_of
    from bedside.answer.patient import patient_of
    from bedside.model import Document, DocumentId

    docs = {
        "gout": Document(DocumentId("gout"), "Gout", "text", topics=("gout", "allopurinol", "serum urate")),
        "kidney": Document(
            DocumentId("kidney"), "Chronic kidney disease", "text", topics=("chronic kidney disease", "CKD")
        ),
    }
    vignette = "62M, chronic kidney disease stage 3, allopurinol 100 mg, urate 480. Do I go up?"
    support = {"gout": 2.0, "kidney": 0.4}
    ask = terms_of("Do I go up")
    patient = patient_of(vignette)
    assert focus_of(terms_of(vignette), docs, patient, ask).documents == ("kidney",)  # by the names alone
    assert focus_of(terms_of(vignette), docs, patient, ask, support=support).documents == ("gout",)
    named = "62M, allopurinol 100 mg. How do I slow his chronic kidney disease?"
    ask = terms_of("How do I slow his chronic kidney disease")
    assert focus_of(terms_of(named), docs, patient_of(named), ask, support=support).documents == ("kidney",)


def test_a_disease_mentioned_once_in_passing_does_not_make_a_document_about_it():
    """A cystitis guideline that says once "refer if pyelonephritis is suspected" does not answer a question that
    opens on pyelonephritis; a guideline that discusses it does."""
    from bedside.answer.candidates import terms_of
    from bedside.answer.focus import focus_of
    from bedside.answer.patient import patient_of
    from bedside.answer.pipeline import head_conditions
    from bedside.answer.question import plan
    from bedside.model import Document, DocumentId

    question = (
        "Acute pyelonephritis, an upper urinary tract infection, in a 30-year-old. Which antibiotic and how long?"
    )
    qplan = plan(question, [])
    conditions = head_conditions(qplan)
    passing = (
        "Give nitrofurantoin for 3 days in cystitis. Refer if pyelonephritis is suspected. Trimethoprim also works."
    )
    cystitis = Document(DocumentId("c"), "Cystitis", passing, topics=("cystitis", "urinary tract infection"))
    args = (terms_of(question), {"c": cystitis}, patient_of(question), terms_of("Which antibiotic and how long"))
    assert not focus_of(*args, conditions=conditions).covered
    discussed = passing + " In pyelonephritis, give cefalexin for 7 to 10 days. Pyelonephritis needs a urine culture."
    cystitis = Document(DocumentId("c"), "Cystitis", discussed, topics=("cystitis", "urinary tract infection"))
    args = (terms_of(question), {"c": cystitis}, patient_of(question), terms_of("Which antibiotic and how long"))
    assert focus_of(*args, conditions=conditions).documents == ("c",)


def test_a_model_drafts_only_from_passages_that_apply_to_the_patient(kb, monkeypatch):
    """The LLM composer is handed the evidence the focus and the patient allow: the documents about the problem,
    and among their passages none that speaks only of someone the patient is not (pregnancy, for a man)."""
    from bedside.errors import UpstreamError

    handed: list[list] = []

    class Recorder:
        def compose(self, question, passages, audience="clinician", on_statement=None):
            handed.append(passages)
            raise UpstreamError("recorded")  # the answer falls back to the extractive composer

    monkeypatch.setattr(kb, "_llm_composer", lambda: Recorder())
    answer = kb.ask("45M, ferritin 9, iron deficiency anaemia. How much oral iron?", llm=True)
    assert handed and answer.composer == "extractive"
    docs = {p.document_id for p in handed[0]}
    assert docs and "ida-pregnancy" not in docs and "gout" not in docs
    assert all("pregnan" not in p.text.lower() for p in handed[0])
    documents = kb.store.documents(sorted(docs))
    for p in handed[0]:  # a run of sentences keeps its exact place in the document
        assert documents[p.document_id].text[p.start : p.start + len(p.text)] == p.text


@pytest.mark.parametrize(
    ("question", "lead"),
    [
        ("Lithium level 2.4 mmol/L in a 68-year-old, eGFR 35. Dialysis?", {"lithium"}),
        ("GP: Rheumatoid arthritis flare at 30 weeks, on methotrexate. What now?", {"rheumatoid", "arthriti", "flare"}),
        ("Nursing home: acute confirmed influenza in 3 residents. Who gets antivirals?", {"influenza"}),
        ("72M, 80 kg, weakness for 2 hours. Alteplase dose?", set()),  # opens on the patient, not a problem
        ("On oxycodone 40 mg bd for back pain. How fast to taper?", set()),  # a drug the patient is on: background
        ("Why does autoimmune gastritis cause iron deficiency?", set()),  # opens on a question word
    ],
)
def test_what_a_vignette_opens_on_naming(question, lead):
    from bedside.answer.question import lead_terms

    assert lead_terms(question) == lead


def test_a_vignette_that_opens_on_a_problem_no_document_in_focus_discusses_abstains():
    """ "Ulcerative colitis flare in a man with chronic kidney disease ...": a kidney guideline that never discusses
    ulcerative colitis is not about the question, however well its words match the rest; the same guideline that does
    discuss it is. A word that names nothing clinical ("Booking appointment") asks nothing of the documents."""
    from bedside.answer.candidates import terms_of
    from bedside.answer.focus import focus_of
    from bedside.answer.patient import patient_of
    from bedside.answer.question import plan
    from bedside.answer.topics import named_terms
    from bedside.model import Document, DocumentId

    kidney = (
        "In chronic kidney disease, measure eGFR once a year. Offer an SGLT2 inhibitor in chronic kidney disease. "
        "Treat blood pressure in chronic kidney disease to below 120 mmHg."
    )
    colitis = " In ulcerative colitis with chronic kidney disease, avoid NSAIDs. Ulcerative colitis needs mesalazine."

    def focus(question: str, text: str):
        qplan = plan(question, [])
        doc = Document(DocumentId("k"), "Chronic kidney disease", text, topics=("chronic kidney disease", "CKD"))
        opening = named_terms(qplan.lead, [doc])  # "ulcerative colitis" is a concept of the vocabulary (UC)
        ask = terms_of(" ".join(p.text for p in qplan.parts))
        return focus_of(terms_of(question), {"k": doc}, patient_of(question), ask, opening=opening)

    question = "Ulcerative colitis flare in a man with chronic kidney disease, eGFR 40. How do I treat his CKD?"
    assert not focus(question, kidney).covered
    assert focus(question, kidney + colitis).documents == ("k",)
    booking = "Booking appointment for a man with chronic kidney disease, eGFR 40. How do I treat his CKD?"
    assert plan(booking, []).lead == {"book", "appoint"} and not named_terms(plan(booking, []).lead, [])
    assert focus(booking, kidney).documents == ("k",)


def test_a_sentence_for_the_patients_own_population_answers_under_its_own_kind():
    """A pregnancy section's referral, for a pregnant woman, is her plan (it may lead the answer, as a referral); for
    a question that does not say she is pregnant it stays a special-population statement."""
    from bedside.answer.candidates import candidates
    from bedside.answer.evidence import EvidencePassage
    from bedside.answer.question import plan
    from bedside.answer.selection import applicable
    from bedside.model import DocumentId, PassageId

    text = "Pregnancy\n\n- Offer an opt-out referral to the smoking service for pregnant women who smoke."
    passage = EvidencePassage(PassageId("s#0"), DocumentId("s"), text, 0, section="Smoking > Pregnancy")
    (cand,) = candidates([passage])
    assert cand.category == "population"
    pregnant = plan("Woman, 12 weeks pregnant, smokes 10 a day. Do I refer her?", [])
    (kept,), specific = applicable([cand], pregnant, None)
    assert kept.category == "escalation" and not kept.population and specific == {0}
    unsaid = plan("Woman, 40, smokes 10 a day. Do I refer her?", [])
    (kept,), _ = applicable([cand], unsaid, None)
    assert kept.category == "population" and kept.population


def test_an_ambiguous_abbreviation_is_read_as_the_evidence_uses_it():
    """ "CO" is carbon monoxide in a smoking guideline's sentences and cardiac output in a sepsis guideline's."""
    from bedside.answer.candidates import candidates
    from bedside.answer.evidence import EvidencePassage
    from bedside.answer.selection import resolved_terms
    from bedside.model import DocumentId, PassageId

    def groups(text: str):
        return [[c] for c in candidates([EvidencePassage(PassageId("d#0"), DocumentId("d"), text, 0)])]

    smoking = groups("Test carbon monoxide at the first antenatal appointment. Offer nicotine replacement therapy.")
    sepsis = groups("Measure cardiac output when shock persists after fluids. Give noradrenaline for shock.")
    assert resolved_terms("When do I re-test CO?", smoking) == {"carbon", "monoxid"}
    assert resolved_terms("When do I re-test CO?", sepsis) == {"cardiac", "output"}
    assert resolved_terms("When do I re-test CO?", groups("Offer nicotine replacement therapy daily.")) == frozenset()


def test_the_sentence_whose_range_holds_the_patients_value_answers_is_it():
    """ "Sodium 128 mmol/L, is it mild?": the sentence whose range or threshold the patient's own value falls in decides
    it, before one that only names the condition; a range for another analyte, or another unit, does not."""
    from bedside.answer.candidates import candidates
    from bedside.answer.evidence import EvidencePassage
    from bedside.answer.question import plan
    from bedside.answer.selection import bottom_line, holds, measurements, part_rankings
    from bedside.model import DocumentId, PassageId

    question = "Woman of 70, sodium 128 mmol/L, Hb 131 g/L, no symptoms. Is this mild hyponatraemia?"
    measured = measurements(question)
    assert [(sorted(m.analyte), m.quantity.label) for m in measured] == [
        (["sodium"], "128 mmol/l"),
        (["hb", "hemoglobin"], "131 g/l"),
    ]
    text = (
        "Hyponatraemia is diagnosed and graded on the serum sodium, and mild hyponatraemia often has no symptoms. "
        "Mild hyponatraemia is a serum sodium of 130 to 135 mmol/L. "
        "Moderate hyponatraemia is a serum sodium of 125 to 129 mmol/L. "
        "Severe hyponatraemia is a serum sodium below 125 mmol/L. "
        "A urine osmolality of 100 to 150 mmol/kg suggests high water intake."
    )
    cands = candidates(
        [EvidencePassage(PassageId("n#0"), DocumentId("n"), text, 0, section="Hyponatraemia > Diagnosis")]
    )
    held = [c.text for c in cands if holds(c, measured)]
    assert held == ["Moderate hyponatraemia is a serum sodium of 125 to 129 mmol/L."]
    qplan = plan(question, [])
    groups = [[c] for c in cands]
    rankings = part_rankings(groups, {id(g): 1.0 for g in groups}, qplan, None, frozenset({"diagnosis", "key"}))
    ((_, lead),) = bottom_line(qplan, rankings)
    assert lead[0].text == "Moderate hyponatraemia is a serum sodium of 125 to 129 mmol/L."


def test_what_the_question_opens_on_naming_brings_the_document_whose_subject_it_is():
    """ "Allopurinol starting dose in a man with chronic kidney disease?": the kidney guideline matches more of the
    words, but the question is about allopurinol, the subject of the gout guideline, which then answers it; when the
    gout guideline is not among those retrieved, the question is not answered from the kidney guideline."""
    from bedside.answer.candidates import terms_of
    from bedside.answer.focus import focus_of
    from bedside.answer.patient import patient_of
    from bedside.answer.question import plan
    from bedside.answer.topics import named_terms
    from bedside.model import Document, DocumentId

    kidney = Document(
        DocumentId("k"),
        "Chronic kidney disease",
        "In chronic kidney disease, measure eGFR once a year. Offer an SGLT2 inhibitor in chronic kidney disease.",
        topics=("chronic kidney disease", "CKD", "eGFR"),
    )
    gout = Document(
        DocumentId("g"),
        "Gout",
        "Start allopurinol at 100 mg daily, lower in chronic kidney disease. Colchicine treats a gout flare.",
        topics=("gout", "allopurinol", "colchicine"),
    )
    question = "Allopurinol starting dose in a man of 70 with chronic kidney disease, eGFR 25?"
    qplan = plan(question, [])

    def focus(docs: dict):
        # the knowledge base names allopurinol in a subject (the gout guideline's, retrieved or not)
        opening = named_terms(qplan.lead, docs.values(), lambda terms: terms & {"allopurinol"})
        ask = terms_of(" ".join(p.text for p in qplan.parts))
        return focus_of(terms_of(question), docs, patient_of(question), ask, opening=opening)

    assert focus({"k": kidney, "g": gout}).documents == ("g",)
    assert not focus({"k": kidney}).covered
