"""Patient identifiers are found and removed from questions; clinical content (doses, ages, lab values, the
abbreviations MR and MS) is left alone."""

from __future__ import annotations

import pytest

from bedside.answer.identifiers import identifier_notice, scrub_identifiers
from bedside.answer.pipeline import validate
from bedside.errors import InvalidInput

# (question, text the scrubbed question must not contain, kind named)
IDENTIFIED = [
    ("Mr John Smith has iron deficiency: what is the treatment?", "Smith", "a name"),
    ("What dose of amoxicillin for Mrs. O'Neil?", "Neil", "a name"),
    ("Ms Jane A. Doe has gout; how is it treated?", "Doe", "a name"),
    ("Dr Ahmed Khan asks how AF is treated", "Khan", "a name"),
    ("Miss Patel, 34, has asthma: first-line inhaler?", "Patel", "a name"),
    ("NHS number 943 476 5919: how is gout treated?", "5919", "an NHS number"),
    ("Patient 9434765919 has gout, what is first-line?", "9434765919", "an NHS number"),
    ("nhs no. 943-476-5919 with cellulitis: antibiotic?", "476", "an NHS number"),
    ("MRN: A1234567 with pneumonia, which antibiotic?", "1234567", "a medical record number"),
    ("hospital number 00123456 has DKA; fluids?", "00123456", "a medical record number"),
    ("medical record no. 55512345, how is PE diagnosed?", "55512345", "a medical record number"),
    ("SSN 123-45-6789 with hypertension: first-line drug?", "6789", "a social security number"),
    ("Patient 123-45-6789 has asthma", "45-6789", "a social security number"),
    ("DOB 12/03/1950, atrial fibrillation: anticoagulate?", "1950", "a date of birth"),
    ("date of birth: 1950-03-12, CKD 3: metformin dose?", "1950", "a date of birth"),
    ("born 3 March 1950 with heart failure: which beta blocker?", "March", "a date of birth"),
    ("d.o.b. March 3, 1950; gout treatment?", "1950", "a date of birth"),
]
CLINICAL = [
    "What is the first-line treatment for iron deficiency anaemia?",
    "Is MR severe enough for surgery when the EROA is 0.4 cm2?",
    "How is MS relapse treated with 1 g methylprednisolone daily for 3 days?",
    "Amoxicillin 500 mg three times daily for 5 days in a 70-year-old?",
    "Platelets 150000 and INR 1.2: safe to start apixaban 5 mg twice daily?",
    "What did the 2019 ATS/IDSA guideline recommend for CAP?",
    "Vitamin B12 1000 micrograms intramuscularly on alternate days?",
    "Ferritin below 30 ug/L in pregnancy at 28 weeks: what dose of iron?",
]


@pytest.mark.parametrize(("question", "secret", "kind"), IDENTIFIED)
def test_identifiers_are_removed_and_named(question: str, secret: str, kind: str) -> None:
    scrubbed = scrub_identifiers(question)
    assert secret not in scrubbed.text and kind in scrubbed.removed, scrubbed
    assert secret not in validate(question, "clinician")


@pytest.mark.parametrize("question", CLINICAL)
def test_clinical_questions_are_left_alone(question: str) -> None:
    assert scrub_identifiers(question).text == question and scrub_identifiers(question).removed == ()


def test_the_question_stays_readable_and_the_notice_names_each_kind() -> None:
    scrubbed = scrub_identifiers("Mr John Smith (NHS 943 476 5919), DOB 12/03/1950, has gout. What is the treatment?")
    assert scrubbed.text == "The patient, has gout. What is the treatment?"
    assert scrubbed.removed == ("a date of birth", "an NHS number", "a name")
    notice = identifier_notice(scrubbed.removed)
    assert "a date of birth, an NHS number and a name" in notice and "Smith" not in notice
    with pytest.raises(InvalidInput, match="nothing but patient identifiers"):
        validate("NHS 943 476 5919", "clinician")
