"""Which candidate sentences an answer keeps, and which of them state the same fact: near-duplicates from different
documents become one group (one bullet citing both); a sentence never joins words from two sources."""

from __future__ import annotations

import re

from bedside.answer.candidates import Candidate

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def pick(
    ranked: list[tuple[float, Candidate]],
    concepts: set[str],
    about: frozenset[str] = frozenset(),
    *,
    relative_floor: float,
    same: float,
    same_distinct: float,
) -> list[list[Candidate]]:
    """Keep good sentences about the question (scoring at least `relative_floor` of the best, naming one of its
    `concepts` unless from a document `about` it), merging near-duplicates from different documents into one group."""
    groups: list[list[Candidate]] = []
    if not ranked:
        return groups
    common = common_terms([c for _, c in ranked])
    floor = ranked[0][0] * relative_floor
    for value, c in ranked:
        if value < floor:
            break
        if concepts and not concepts & c.terms and c.passage.document_id not in about:
            continue  # says nothing about what was asked, however well its passage ranked
        for group in groups:
            if duplicates(group[0], c, common, same, same_distinct):
                if all(g.passage.document_id != c.passage.document_id for g in group):
                    group.append(c)  # another source says the same: cite both
                break
        else:
            groups.append([c])
    return groups


def common_terms(cands: list[Candidate]) -> frozenset[str]:
    """Terms in more than a quarter of the candidate sentences: the question's context ("DVT or PE", the issuer),
    which every sentence shares and which says nothing about whether two sentences state the same fact."""
    counts: dict[str, int] = {}
    for c in cands:
        for t in c.terms:
            counts[t] = counts.get(t, 0) + 1
    return frozenset(t for t, n in counts.items() if n > max(2, len(cands) // 4))


def duplicates(a: Candidate, b: Candidate, common: frozenset[str], same: float, same_distinct: float) -> bool:
    """Whether two sentences state the same fact: most of their words in common (a Jaccard of `same`), or most of
    their distinctive words (context set aside; `same_distinct`) with the same numbers ("Do not use an INR range below
    2.0-3.0" and "ASH recommends an INR range of 2.0-3.0")."""
    if jaccard(a.terms, b.terms) >= same:
        return True
    if _NUMBER.findall(a.text) != _NUMBER.findall(b.text):
        return False
    da, db = a.terms - common, b.terms - common
    return len(da & db) >= 3 and jaccard(da, db) >= same_distinct
