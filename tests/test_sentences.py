from hypothesis import given
from hypothesis import strategies as st

from bedside.text.sentences import split, split_spans


def test_biomedical_abbreviations_and_decimals_do_not_split():
    text = (
        "Give hydroxocobalamin 1 mg i.m. three times a week, e.g. in pernicious anaemia. "
        "Fig. 2 compares it vs. placebo (Smith et al. 2019). The dose was 1.5 mg/kg. "
        "Then J. Smith stopped it! Was it safe? Yes."
    )
    assert split(text) == [
        "Give hydroxocobalamin 1 mg i.m. three times a week, e.g. in pernicious anaemia.",
        "Fig. 2 compares it vs. placebo (Smith et al. 2019).",
        "The dose was 1.5 mg/kg.",
        "Then J. Smith stopped it!",
        "Was it safe?",
        "Yes.",
    ]


def test_blank_lines_and_bullets_always_end_a_sentence():
    text = "Heading without stop\n\nFirst para\n- bullet one\n- bullet two. Second sentence.\n1. numbered"
    assert split(text) == [
        "Heading without stop",
        "First para",
        "- bullet one",
        "- bullet two.",
        "Second sentence.",
        "1. numbered",
    ]


def test_lowercase_after_period_is_not_a_boundary():
    assert split("Use 5 mg b.i.d. for adults. ferritin is low.") == ["Use 5 mg b.i.d. for adults. ferritin is low."]


@given(st.text(alphabet=st.sampled_from(list("ab .!?\n\tXY12e.g")), max_size=200))
def test_spans_are_exact_ordered_and_trimmed(text):
    spans = split_spans(text)
    last = 0
    for a, b in spans:
        assert last <= a < b <= len(text)
        assert text[a:b] == text[a:b].strip()
        last = b
    # Nothing but whitespace is lost between sentences.
    covered = "".join(text[a:b] for a, b in spans)
    assert "".join(covered.split()) == "".join(text.split())
