"""The answer JSON the documentation shows is the one `AnswerJSON` defines: every JSON example of an answer in the
README (and in the team's interfaces document, where that checkout has it) validates against the model and uses no
key the model does not know."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bedside.model import Answer, AnswerJSON

ROOT = Path(__file__).parents[2]
INTERFACES = ROOT.parent / "shared" / "docs" / "interfaces.md"  # beside the checkout, not part of it
_BLOCK = re.compile(r"^```json\n(.*?)^```", re.DOTALL | re.MULTILINE)


def answer_examples(markdown: str) -> list[Any]:
    """The JSON code blocks that show an answer; `[...]` (an elided list) reads as an empty one."""
    found = [json.loads(block.replace("[...]", "[]")) for block in _BLOCK.findall(markdown)]
    return [data for data in found if isinstance(data, dict) and "bottom_line" in data]


def unknown_keys(data: Any, model: Any, where: str = "") -> list[str]:
    """Keys of `data` that the model it was read into does not define, with their place."""
    if isinstance(model, BaseModel) and isinstance(data, dict):
        fields = type(model).model_fields
        found = [f"{where}{key}" for key in data if key not in fields]
        for key in data.keys() & fields.keys():
            found += unknown_keys(data[key], getattr(model, key), f"{where}{key}.")
        return found
    if isinstance(model, list) and isinstance(data, list):
        return [k for i, (d, m) in enumerate(zip(data, model, strict=True)) for k in unknown_keys(d, m, f"{where}{i}.")]
    return []


def check_examples(markdown: str) -> list[dict[str, Any]]:
    examples = answer_examples(markdown)
    assert examples, "no answer JSON example found"
    for data in examples:
        parsed = AnswerJSON.model_validate(data)
        assert unknown_keys(data, parsed) == []
        Answer.from_dict(data)
    return examples


def test_the_readme_example_is_what_bedside_writes() -> None:
    (example,) = check_examples((ROOT / "README.md").read_text(encoding="utf-8"))
    assert AnswerJSON.model_validate(example).model_dump(mode="json") == example  # complete, in the written shape
    cited = {n for s in Answer.from_dict(example).statements() for n in s.citations}
    assert cited == {r["number"] for r in example["references"]}


@pytest.mark.skipif(not INTERFACES.exists(), reason="the interfaces document is not beside this checkout")
def test_the_interfaces_example_validates() -> None:
    check_examples(INTERFACES.read_text(encoding="utf-8"))


def test_an_undocumented_key_is_found() -> None:
    """The check itself: a key the model lacks, at any depth, is named."""
    data = {"bottom_line": [{"text": "x", "citations": [1], "provenance": [], "confidence": 0.9}], "score": 1}
    assert sorted(unknown_keys(data, AnswerJSON.model_validate(data))) == ["bottom_line.0.confidence", "score"]
    assert answer_examples('```json\n{"bottom_line": [...]}\n```\n```sh\nbedside ask\n```') == [{"bottom_line": []}]
