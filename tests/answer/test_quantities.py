"""Quantities read by one module: which ones are doses (the patient version's framing, a dose question's best
sentences), and which sentences state a measured value (a ranking feature)."""

from __future__ import annotations

import pytest

from bedside.text.quantities import has_dose, has_measure, quantities


@pytest.mark.parametrize(
    ("text", "dose"),
    [
        ("Give hydroxocobalamin 1 mg every 3 months.", True),
        ("Start allopurinol at 100 mg daily.", True),
        ("Give 20 mL/kg of 0.9% sodium chloride.", True),
        ("Amoxicillin 15 mg/kg/day in two doses.", True),
        ("Noradrenaline 0.3 mcg/kg/min.", True),
        ("Tranexamic acid 4 g/24 h.", True),
        ("Give 10 mg/dose.", True),
        ("F/TDF 200 mg/300 mg once daily.", True),
        ("Give two grams of ceftriaxone.", True),
        ("Give 40 units of insulin.", True),
        ("A ferritin below 30 µg/L confirms iron deficiency.", False),
        ("Potassium of 6.5 mmol/L or higher is severe.", False),
        ("Avoid nitrofurantoin when eGFR is below 45 mL/min.", False),
        ("Metformin is contraindicated below 30 mL/min/1.73 m².", False),
        ("Adrenaline 1 mg/mL (1:1000).", False),
        ("Glucose of 126 mg/dL or higher.", False),
        ("Treat for 3 months in 40 patients [2].", False),
        ("No number here.", False),
    ],
)
def test_a_dose_is_an_amount_alone_or_per_weight_area_or_time_never_a_concentration(text: str, dose: bool) -> None:
    assert has_dose(text) is dose
    assert any(q.is_dose for q in quantities(text)) is dose


@pytest.mark.parametrize(
    ("text", "measured"),
    [
        ("Give 1 mg.", True),
        ("Treat for 2-3 months.", True),
        ("Take 2 tablets at night.", True),
        ("A ferritin below 30 µg/L.", True),
        ("In 40 patients [2].", False),
        ("COVID-19 and IL-6.", False),
        ("Vitamin B12 deficiency.", False),
    ],
)
def test_a_measure_is_a_number_with_a_unit(text: str, measured: bool) -> None:
    assert has_measure(text) is measured
