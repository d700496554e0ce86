"""Local protocols first: documents ingested into a named collection outrank the literature on their own topic
(not on others) by the operator's priority, and references label them."""

import pytest

from bedside import Bedside
from bedside.answer.render import to_markdown
from bedside.errors import InvalidInput

LITERATURE = """---
title: Management of example pleurisy in adults
type: guideline
issuer: Example Thoracic Society
year: 2022
---

# Treatment

- For example pleurisy in adults, give naproxen 500 mg twice daily for five days with food.
- Review example pleurisy after one week; persistent pain needs a chest radiograph.
"""

PROTOCOL = """---
title: Example pleurisy (ward protocol)
type: guideline
issuer: Example General Hospital
year: 2020
---

# Treatment

- For example pleurisy on our wards, give ibuprofen 400 mg three times daily for five days with food.
"""

OTHER = """---
title: Management of example gout flares
type: guideline
issuer: Example Rheumatology Society
year: 2023
---

# Treatment

- For an example gout flare, give colchicine 500 micrograms two to four times daily.
"""


@pytest.fixture
def kb(tmp_path):
    for name, text in (("lit.md", LITERATURE), ("protocol.md", PROTOCOL), ("gout.md", OTHER)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    b = Bedside(data_dir=tmp_path / "data", starter_kb=False)
    yield b
    b.close()


def _ids(hits):
    return [h.document_id for h in hits]


def test_a_collection_outranks_the_literature_on_its_topic_only(kb, tmp_path):
    kb.ingest([tmp_path / "lit.md", tmp_path / "gout.md"])
    kb.ingest([tmp_path / "protocol.md"])
    [lit] = [h.document_id for h in kb.search("example pleurisy adults naproxen", limit=1)]
    plain = _ids(kb.search("treatment of example pleurisy in adults", limit=3))
    assert plain[0] == lit  # as literature, the society's guideline ranks first

    report = kb.ingest([tmp_path / "protocol.md"], collection="local-protocols")
    assert report.updated == 1  # moved into the collection
    [c] = kb.collections()
    assert (c.name, c.priority, c.label, c.documents) == ("local-protocols", 1, "Local protocol", 1)
    hits = kb.search("treatment of example pleurisy in adults", limit=3)
    assert hits[0].collection == "local-protocols" and hits[0].document_id != lit
    assert _ids(kb.search("example gout flare colchicine", limit=1)) != [hits[0].document_id]  # not off topic

    kb.set_collection("local-protocols", priority=0)
    assert _ids(kb.search("treatment of example pleurisy in adults", limit=3))[0] == lit


def test_references_label_a_local_protocol(kb, tmp_path):
    kb.ingest([tmp_path / "lit.md", tmp_path / "gout.md"])
    kb.ingest([tmp_path / "protocol.md"], collection="local-protocols")
    kb.set_collection("local-protocols", label="Example General Hospital protocol")
    answer = kb.ask("What is the treatment for example pleurisy?")
    labelled = [r for r in answer.references if r.label]
    assert labelled and all(r.label == "Example General Hospital protocol" for r in labelled)
    assert {r.title for r in labelled} == {"Example pleurisy (ward protocol)"}
    assert answer.to_dict()["references"][answer.references.index(labelled[0])]["label"] == labelled[0].label
    assert "Example General Hospital protocol — Guideline — Example pleurisy" in to_markdown(answer).replace("\\", "")


def test_bad_collection_names_and_settings_are_refused(kb, tmp_path):
    with pytest.raises(InvalidInput, match="invalid collection name"):
        kb.ingest([tmp_path / "protocol.md"], collection="Local Protocols")
    with pytest.raises(InvalidInput, match="between 0 and 10"):
        kb.set_collection("local-protocols", priority=11)
    with pytest.raises(InvalidInput, match="label"):
        kb.set_collection("local-protocols", label="  ")
    assert kb.store.counts() == (0, 0)


def test_an_on_topic_protocol_leads_the_answer(kb, tmp_path):
    kb.ingest([tmp_path / "lit.md", tmp_path / "gout.md"])
    kb.ingest([tmp_path / "protocol.md"], collection="local-protocols")
    question = "What is the treatment for example pleurisy in adults?"
    first = kb.ask(question).references
    assert first[0].title == "Example pleurisy (ward protocol)" and first[0].label == "Local protocol"
    gout = kb.ask("What is the treatment for an example gout flare?").references
    assert gout and gout[0].title == "Management of example gout flares"  # a protocol on another topic never leads
    kb.set_collection("local-protocols", priority=0)
    assert kb.ask(question + " ").references[0].title == "Management of example pleurisy in adults"
