"""Representative questions find their digest first, and the starter knowledge base loads once."""

import pytest

QUESTIONS = [
    ("What is the first-line oral iron for iron deficiency anaemia in adults?", "iron-deficiency-anaemia-adults"),
    (
        "Hydroxocobalamin regimen for vitamin B12 deficiency with neurological involvement",
        "vitamin-b12-folate-deficiency-bsh",
    ),
    (
        "Which antibiotic for an outpatient adult with community-acquired pneumonia and no comorbidities?",
        "community-acquired-pneumonia-ats-idsa",
    ),
    ("Adrenaline dose intramuscular for anaphylaxis in adults", "anaphylaxis-resuscitation-council-uk"),
    ("Step 1 antihypertensive for a person of Black African family origin", "hypertension-nice-ng136"),
    ("Nitrofurantoin for lower urinary tract infection in non-pregnant women", "urinary-tract-infection-nice-ng109"),
    ("Calcium gluconate for hyperkalaemia with ECG changes", "hyperkalaemia-uk-kidney-association"),
    ("Urate-lowering therapy target serum urate in gout", "gout-acr-2020"),
    ("Gluten-free diet and tTG-IgA serology for celiac disease diagnosis", "coeliac-disease-acg"),
    ("Bismuth quadruple therapy for Helicobacter pylori eradication", "helicobacter-pylori-acg"),
    ("Tenecteplase or alteplase for acute ischemic stroke within 4.5 hours", "acute-ischaemic-stroke-aha"),
    ("Daily PrEP with emtricitabine tenofovir for HIV prevention", "hiv-prep-cdc-2021"),
]


@pytest.mark.parametrize(("question", "digest"), QUESTIONS, ids=[d for _, d in QUESTIONS])
def test_top_passage_comes_from_the_right_digest(starter, question, digest):
    hits = starter.search(question, limit=3)
    assert hits and hits[0].document_id == digest, [h.document_id for h in hits]


def test_starter_knowledge_base_loads_once_and_can_be_disabled(starter):
    status = starter.starter_status()
    assert status["loaded"] and status["current"] and status["documents"] == status["shipped"]
    assert starter.ensure_starter_kb() is None  # already current: nothing to do
    assert starter.unload_starter_kb() == status["shipped"]
    assert starter.stats()["documents"] == 0
    assert starter.starter_status()["enabled"] is False  # stays out until loaded again
    report = starter.load_starter_kb()
    assert report is not None and report.added == status["shipped"]
    assert starter.stats()["documents"] == status["shipped"]


def test_disabled_starter_knowledge_base_stays_out(tmp_path):
    from bedside import Bedside

    with Bedside(data_dir=tmp_path / "d", starter_kb=False) as b:
        assert b.stats()["documents"] == 0
        assert b.starter_status()["enabled"] is False
