"""The patient a question describes, and whether a sentence's population fits them."""

import pytest

from bedside.answer.applicability import Applicability, Fit, applicability, fit
from bedside.answer.patient import Patient, patient_of


@pytest.mark.parametrize(
    ("text", "age", "sex"),
    [
        ("63M with a painful swollen toe", 63.0, "male"),
        ("A 41F, 62 kg, with palpitations", 41.0, "female"),
        ("7-year-old boy with a barking cough", 7.0, "male"),
        ("Baby of 9 months old with fever", 0.75, None),
        ("aged 80, lives alone, she is breathless", 80.0, "female"),
        ("Diabetic for 12 years, now with foot ulcer", None, None),  # a duration is not an age
    ],
)
def test_age_and_sex(text, age, sex):
    p = patient_of(text)
    assert (p.age, p.sex) == (age, sex)


def test_pregnancy_weeks_and_what_rules_it_out():
    p = patient_of("29-year-old at 31 weeks pregnant with dysuria")
    assert p.pregnant and p.gestation_weeks == 31 and p.sex == "female"
    assert patient_of("Non-pregnant woman, 30, with dysuria").pregnant is False
    assert patient_of("70-year-old man with dysuria").pregnant is False  # a man is never pregnant
    assert patient_of("Woman of 30 with dysuria").pregnant is None  # not said


def test_kidney_function_weight_and_conditions():
    p = patient_of("68F, 54 kg, eGFR 28, known heart failure, no diabetes")
    assert p.egfr == 28.0 and p.weight_kg == 54.0
    assert p.has("renal impairment") and p.has("heart failure")
    assert p.has("diabetes") is False  # ruled out in the question
    assert p.has("cardiovascular disease") is None  # not said
    assert patient_of("tingling feet and an unsteady gait").has("neurological involvement")


@pytest.mark.parametrize(
    ("text", "egfr"),
    [
        ("81F on apixaban, eGFR now 24 (39 last year)", 24.0),
        ("eGFR has fallen to 33 since the winter", 33.0),
        ("his eGFR of 52 is stable", 52.0),
        ("creatinine clearance 48 mL/min", 48.0),
        ("stable kidneys, eGFR 70.", 70.0),  # the full stop ends the sentence, not a decimal
        ("eGFR 7.5 would be unusual", None),  # not a whole number: not read as 7
    ],
)
def test_kidney_function_as_clinicians_write_it(text, egfr):
    p = patient_of(text)
    assert p.egfr == egfr
    if egfr is not None and egfr < 60:
        # a sentence for eGFR below 30 applies (or conflicts) by the patient's own value, not as another population
        below_30 = applicability("Metformin is contraindicated in adults with an eGFR below 30 mL/min/1.73 m2.")
        assert fit(below_30, p) is (Fit.APPLIES if egfr < 30 else Fit.CONFLICT)


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("In adults aged 18 to 64, give 500 mg.", Applicability(age_min=18.0, age_max=65.0)),
        ("For children aged 6-23 months, give 10 mg daily.", Applicability(age_min=0.5, age_max=2.0)),
        ("In people aged 65 and over, start at half dose.", Applicability(age_min=65.0)),
        (
            "In non-pregnant women, a 3-day course is enough.",
            Applicability(excludes=frozenset({"pregnancy"}), sex="female"),
        ),
        (
            "In AF without heart failure, rate control uses a beta-blocker.",
            Applicability(excludes=frozenset({"heart failure"})),
        ),
        ("Women who could become pregnant should use contraception.", Applicability()),
        (
            "When eGFR is below 30, halve the dose.",
            Applicability(requires=frozenset({"renal impairment"}), egfr_below=30.0),
        ),
    ],
)
def test_sentence_populations(sentence, expected):
    assert applicability(sentence) == expected


def test_a_population_conflict_is_never_offered():
    man, child = patient_of("72M, 80 kg"), patient_of("4-year-old with fever")
    assert fit(applicability("In pregnancy, give 200 mg daily."), man) is Fit.CONFLICT
    assert fit(applicability("In adults, give 1 g every 6 hours."), child) is Fit.CONFLICT
    assert fit(applicability("For children under 12, give 15 mg/kg."), man) is Fit.CONFLICT
    hf = patient_of("78F with heart failure, new AF")
    assert (
        fit(applicability("In AF without heart failure, a calcium channel blocker is an option."), hf) is Fit.CONFLICT
    )
    renal = patient_of("eGFR 45")
    assert fit(applicability("When eGFR is below 30, halve the dose."), renal) is Fit.CONFLICT


def test_another_population_is_set_apart_and_the_patients_own_applies():
    anyone = Patient()
    pregnant = patient_of("28 weeks pregnant")
    in_pregnancy = applicability("In pregnancy, take 40 mg of elemental iron daily.")
    assert fit(in_pregnancy, anyone) is Fit.OTHER
    assert fit(in_pregnancy, pregnant) is Fit.APPLIES
    # a bare question about a drug is about its usual patients: a condition it names is no other population
    assert fit(applicability("In heart failure, vericiguat lowers admissions."), anyone) is Fit.APPLIES
    assert fit(applicability("Give 1 mg daily."), pregnant) is Fit.APPLIES


def test_a_wider_context_fills_in_what_the_sentence_does_not_say():
    title = applicability(" in pregnancy")
    own = applicability("Give oral iron 40 mg daily.")
    assert own.merged(title).requires == frozenset({"pregnancy"})
    non_pregnant = applicability("In non-pregnant women, give 200 mg.")
    assert "pregnancy" not in non_pregnant.merged(title).requires  # the sentence's own word wins


def test_populations_joined_by_or_apply_when_either_holds():
    ccb = applicability(
        "Offer a calcium channel blocker to adults without type 2 diabetes who are aged 55 or over, or who are of "
        "Black African or African-Caribbean family origin."
    )
    acei = applicability(
        "Offer an ACE inhibitor to adults aged under 55 who are not of Black African or African-Caribbean "
        "family origin."
    )
    black_54 = patient_of("54-year-old man of Black African family origin, no diabetes")
    white_60 = patient_of("60-year-old woman, no diabetes")
    diabetic_60 = patient_of("60M with type 2 diabetes")
    assert (fit(ccb, black_54), fit(acei, black_54)) == (Fit.APPLIES, Fit.CONFLICT)
    assert fit(ccb, white_60) is Fit.APPLIES
    assert fit(ccb, diabetic_60) is Fit.CONFLICT  # "without diabetes" holds for both alternatives


def test_diabetes_is_a_population_a_sentence_can_require_or_exclude():
    no_diabetes = patient_of("54M, no diabetes, BP 164/102")
    assert fit(applicability("In adults who have type 2 diabetes, offer an ARB."), no_diabetes) is Fit.CONFLICT
    assert fit(applicability("In adults without diabetes, offer a thiazide-like diuretic."), no_diabetes) is Fit.APPLIES


@pytest.mark.parametrize(
    ("sentence", "applies", "conflicts"),
    [
        (
            "Aim for 93-95% in adults and adolescents and 94-98% in children aged 6 to 11 years.",
            ["40M", "8-year-old"],
            [],
        ),
        (
            "The target is below 140/90 mmHg for adults aged under 80, "
            "and below 150/90 mmHg for those aged 80 and over.",
            ["54M", "85-year-old man"],
            [],
        ),
        (
            "Give 500 mg twice daily in non-pregnant adults, while in pregnancy give 1 g once daily.",
            ["40M", "29-year-old, 20 weeks pregnant"],
            [],
        ),
        # One population with two conditions is not an enumeration: both must hold.
        ("Offer the drug to adults aged 65 and over with diabetes and heart failure.", [], ["40M"]),
    ],
)
def test_a_sentence_giving_each_population_its_own_value_applies_to_each(sentence, applies, conflicts):
    a = applicability(sentence)
    for question in applies:
        assert fit(a, patient_of(question)) is not Fit.CONFLICT, question
    for question in conflicts:
        assert fit(a, patient_of(question)) is Fit.CONFLICT, question


def test_women_of_childbearing_age_are_not_children():
    a = applicability("For women of childbearing age, a higher folate intake of 800 micrograms daily is advised.")
    assert fit(a, patient_of("31-year-old woman after gastric bypass")) is Fit.APPLIES
    assert fit(a, patient_of("60M after gastric bypass")) is Fit.CONFLICT
