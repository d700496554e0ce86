"""The article page shows a source's expression of concern or erratum, and a local protocol's label, with its
reference; the JSON API carries the same."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bedside import Bedside

PROTOCOL = """---
title: Inhaled corticosteroid step-down in stable example bronchitis (ward protocol)
type: guideline
issuer: Example General Hospital
year: 2024
topics: [example bronchitis, inhaled corticosteroid]
---

# Step-down

- Step down inhaled corticosteroid in stable example bronchitis only after twelve stable weeks, then review
  after four weeks.
"""


def test_reference_notes_and_labels_on_the_page_and_in_json(tmp_path: Path, fixtures: Path, app_factory: Any) -> None:
    data = tmp_path / "data"
    shutil.copy(fixtures / "medline" / "retractions.xml", tmp_path / "retractions.xml")
    (tmp_path / "protocol.md").write_text(PROTOCOL, encoding="utf-8")
    with Bedside(data_dir=data, starter_kb=False) as b:
        assert b.ingest([tmp_path / "retractions.xml"]).ok
        assert b.ingest([tmp_path / "protocol.md"], collection="local-protocols").ok
    app, _ = app_factory(data, starter_kb=False)
    with TestClient(app, follow_redirects=False) as client:
        r = client.post(
            "/api/ask", json={"question": "Is inhaled corticosteroid step-down safe in stable example bronchitis?"}
        )
        assert r.status_code == 200, r.text
        refs = {ref["document_id"]: ref for ref in r.json()["references"]}
        assert "91000001" not in refs and "91000002" not in refs
        assert refs["91000003"]["notes"][0] == "Expression of concern: J Ex Respir Med. 2023;15(1):3 (PMID 91000004)"
        [local] = [ref for ref in refs.values() if ref["label"]]
        assert local["label"] == "Local protocol"
        page = client.get(f"/articles/{r.json()['slug']}")
        assert page.status_code == 200
        view = page.context["article"]  # type: ignore[attr-defined]
        shown = {ref.title: ref for ref in view.references}
        cohort = shown["Inhaled corticosteroid step-down in stable example bronchitis: a cohort study."]
        assert cohort.notes == tuple(refs["91000003"]["notes"])
        assert (
            '<span class="ref-note">Expression of concern: J Ex Respir Med. 2023;15(1):3 (PMID 91000004)</span>'
            in page.text
        )
        assert '<span class="ref-collection">Local protocol</span>' in page.text
