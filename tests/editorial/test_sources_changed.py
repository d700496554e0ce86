"""Sources that change under an article: re-ingested with other text, replaced by a newer edition, retracted or
removed. Every article whose current version cites one is flagged with what changed, `bedside articles stale`
lists them, re-composing makes a new version for review, and nothing approved changes by itself."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bedside import Bedside
from bedside.cli import main
from bedside.config import load_settings
from bedside.editorial.desk import SqlArticleService
from bedside.editorial.interface import Role

GUIDELINE = """---
title: Management of example pleurisy
type: guideline
issuer: Example Thoracic Society
year: {year}
---

# Treatment

- For example pleurisy in adults, give {drug} for five days with food.
"""

GOUT = """---
title: Management of example gout flares
type: guideline
issuer: Example Rheumatology Society
year: 2023
---

# Treatment

- For an example gout flare, give colchicine {dose} two to four times daily.
"""

PLEURISY = "What is the treatment for example pleurisy?"
ZANTHOXIN = "Does zanthoxin syrup reduce cough in example bronchitis?"
GOUT_Q = "What is the treatment for an example gout flare?"


@pytest.fixture
def env(tmp_path: Path, fixtures: Path, monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "data"
    monkeypatch.setenv("BEDSIDE_DATA_DIR", str(data))
    monkeypatch.setenv("BEDSIDE_STARTER_KB", "false")
    monkeypatch.delenv("BEDSIDE_DATABASE_URL", raising=False)
    src = tmp_path / "src"
    src.mkdir()
    (src / "pleurisy-2019.md").write_text(GUIDELINE.format(year=2019, drug="naproxen 500 mg twice daily"))
    (src / "gout.md").write_text(GOUT.format(dose="500 micrograms"))
    for name in ("unflagged_trial.xml", "retraction_notice.xml"):
        shutil.copy(fixtures / "medline" / name, src / name)
    return data, src


def _run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_changed_sources_are_flagged_listed_and_recomposed_for_review(env) -> None:
    data, src = env
    _run("ingest", str(src / "pleurisy-2019.md"), str(src / "gout.md"), str(src / "unflagged_trial.xml"))
    settings = load_settings(data_dir=data, starter_kb=False)
    with Bedside(settings=settings) as b, SqlArticleService(settings.resolved_database_url) as service:
        reviewer, _ = service.add_user("rita@example.org", Role.REVIEWER, "a-long-password-1")
        slugs = {}
        for question in (PLEURISY, ZANTHOXIN, GOUT_Q):
            answer, sources = b.compose_article(question)
            article = service.article_for(question, lambda a=answer: a, sources)
            slugs[question] = article.slug
            assert sources, (question, answer)
        for question in (PLEURISY, ZANTHOXIN):
            service.review(slugs[question], "claim", reviewer)
            service.review(slugs[question], "approve", reviewer)
        before = {q: service.get(s) for q, s in slugs.items()}
        pleurisy_v1 = next(iter(before[PLEURISY].latest.sources))
        assert service.check_sources(b.source_states) == []

    # A newer edition of the guideline, a retraction notice for the trial, new text for the gout guideline.
    (src / "pleurisy-2024.md").write_text(GUIDELINE.format(year=2024, drug="ibuprofen 400 mg three times daily"))
    (src / "gout.md").write_text(GOUT.format(dose="1 mg"))
    result = _run("ingest", str(src / "pleurisy-2024.md"), str(src / "retraction_notice.xml"), str(src / "gout.md"))
    assert "3 article(s) flagged: sources changed" in result.output

    stale = {row["slug"]: row for row in json.loads(_run("articles", "stale", "--json").stdout)}
    assert set(stale) == set(slugs.values())
    pleurisy, trial, gout = (stale[slugs[q]]["changes"] for q in (PLEURISY, ZANTHOXIN, GOUT_Q))
    assert pleurisy == [
        f"“Management of example pleurisy” ({pleurisy_v1}) replaced by a newer version: "
        f"“Management of example pleurisy” (pleurisy-2024, 2024)"
    ]
    assert any(
        c.startswith(
            "“Oral zanthoxin syrup for cough in example bronchitis: a randomised trial.” (91000007) retracted "
            "(Retracted: Journal of Example Respiratory Medicine, 2023 (PMID 91000008))"
        )
        for c in trial
    ), trial
    assert gout == ["“Management of example gout flares” (gout) changed: re-ingested with different content"]

    with SqlArticleService(load_settings(data_dir=data).resolved_database_url) as service:
        for question, old in before.items():  # nothing approved or composed changed by itself
            now = service.get(slugs[question])
            assert now.versions == old.versions and now.status == old.status
            assert now.approved_version == old.approved_version and now.sources_changed
        page_changes = service.get(slugs[PLEURISY]).sources_changes
        assert page_changes == tuple(pleurisy)

    # The operator removes the old edition, then re-composes: a new version for review; the approved one stays.
    result = _run("remove", pleurisy_v1)
    recomposed = _run("articles", "recompose", slugs[PLEURISY])
    assert f"{slugs[PLEURISY]}: version 2 composed, submitted" in recomposed.stdout
    assert "still flagged" in recomposed.stdout  # the public version 1 still cites the removed edition
    with SqlArticleService(load_settings(data_dir=data).resolved_database_url) as service:
        article = service.get(slugs[PLEURISY])
        assert article.public_version == article.versions[0] and article.approved_version == 1
        assert set(article.latest.sources) == {"pleurisy-2024"}
        assert article.sources_changes == (
            f"“Management of example pleurisy” ({pleurisy_v1}) removed from the knowledge base",
        )
        reviewer = service.get_user("rita@example.org")
        service.review(article.slug, "claim", reviewer)
        service.review(article.slug, "approve", reviewer)
    stale = {row["slug"] for row in json.loads(_run("articles", "stale", "--json").stdout)}
    assert stale == {slugs[ZANTHOXIN], slugs[GOUT_Q]}
    text = _run("articles", "stale").stdout
    assert "re-ingested with different content" in text and slugs[PLEURISY] not in text


def test_a_medline_update_flags_the_article_unless_its_reference_already_showed_it(tmp_path: Path, fixtures) -> None:
    from bedside.model import NewerVersion

    settings = load_settings(data_dir=tmp_path / "data", starter_kb=False)
    with Bedside(settings=settings) as b, SqlArticleService(settings.resolved_database_url) as service:
        assert b.ingest([fixtures / "medline" / "retractions.xml"]).ok
        state = b.source_states(["91000009", "missing"])
        assert set(state) == {"91000009"}
        assert state["91000009"].newer == (
            NewerVersion("", "Example Database Syst Rev. 2024;(3):CD000009", None, "91000010"),
        )
        reference = {
            "number": 1,
            "type": "Systematic review",
            "title": "Antibiotics for example bronchitis",
            "source": "",
            "year": 2017,
            "url": "",
            "document_id": "91000009",
        }
        statement = {
            "text": "Antibiotics shortened cough.",
            "citations": [1],
            "provenance": [{"passage_id": "91000009#0", "document_id": "91000009", "start": 0, "end": 10}],
        }
        answer = {"title": "Antibiotics", "bottom_line": [statement], "sections": [], "references": [reference]}
        sources = b.store.hashes(["91000009"])
        unaware = service.article_for("Old question?", lambda: answer, sources).slug
        shown = {**answer, "references": [{**reference, "notes": list(b.store.document("91000009").notes())}]}
        aware = service.article_for("New question?", lambda: shown, sources).slug
        assert service.check_sources(b.source_states) == [unaware]
        assert service.get(unaware).sources_changes == (
            "“Antibiotics for example bronchitis in adults: a systematic review.” (91000009) replaced by a newer "
            "version: “Example Database Syst Rev. 2024;(3):CD000009” (PMID 91000010)",
        )
        assert not service.get(aware).sources_changed
