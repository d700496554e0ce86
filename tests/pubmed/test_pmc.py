"""Open-access full text from PMC: ID Converter, OA Web Service, only open licences fetched, licence recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from ncbi_fake import FakeNcbi, client_for, fake_ncbi

from bedside import Bedside
from bedside.cli import main
from bedside.pubmed.pmc import fetch_full_text, is_open_licence, oa_record, pmcids_for


@pytest.fixture
def ncbi() -> FakeNcbi:
    """PubMed and PMC as the E-utilities show them (tests/fixtures/eutils, tests/fixtures/pmc)."""
    return fake_ncbi()


def test_licences() -> None:
    for licence in ("CC BY", "CC BY-NC-SA", "CC0", "cc by-nd", "Public Domain"):
        assert is_open_licence(licence), licence
    for licence in ("NO-CC CODE", "", "All rights reserved"):
        assert not is_open_licence(licence), licence


def test_only_open_licence_full_text_is_fetched_and_its_licence_recorded(ncbi, tmp_path: Path, fixtures) -> None:
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b, client_for(ncbi, tmp_path) as client:
        assert b.ingest([fixtures / "medline" / "retractions.xml"]).ok
        assert pmcids_for(client, ["91000003", "91000009", "91000001", "91000005"]) == {
            "91000003": "PMC9100003",
            "91000009": "PMC9100009",
            "91000001": "PMC9100001",
        }
        assert oa_record(client, "PMC9100001") is None
        record = oa_record(client, "PMC9100003")
        assert record is not None and (record.licence, record.retracted) == ("CC BY", False)
        ncbi.log.clear()
        report = fetch_full_text(client, b.kb, ["91000003", "91000009", "91000001", "91000005"])
        assert (report.asked, report.in_pmc, report.open, report.ingest.added) == (4, 3, 1, 1)
        assert dict(report.skipped) == {
            "PMC9100009": "licence NO-CC CODE is not an open licence",
            "PMC9100001": "retracted",  # the knowledge base knows 91000001 is retracted: not even looked up
        }
        full = b.store.document("PMC9100003")
        assert dict(full.extra)["license"] == "CC BY" and full.pmid == "91000003"
        assert "410 adults" in full.text
        fetched = [p for _, e, p in ncbi.log if e == "efetch.fcgi"]
        assert [p["id"] for p in fetched] == ["9100003"] and fetched[0]["db"] == "pmc"
        assert all(p["tool"] == "bedside" and p["email"] == "ops@example.org" for _, _, p in ncbi.log)
        assert not any(p.get("id") == "PMC9100001" for _, e, p in ncbi.log if e == "oa.fcgi")


def test_the_pmc_command(ncbi, tmp_path: Path, fixtures, monkeypatch) -> None:
    import bedside.cli.pubmed

    monkeypatch.setenv("BEDSIDE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BEDSIDE_STARTER_KB", "false")
    monkeypatch.setenv("BEDSIDE_NCBI_EMAIL", "ops@example.org")
    monkeypatch.setattr(bedside.cli.pubmed, "transport", ncbi.transport)
    runner = CliRunner()
    assert runner.invoke(main, ["ingest", str(fixtures / "medline" / "retractions.xml")]).exit_code == 0
    result = runner.invoke(main, ["pmc", "fetch", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["in_pmc"], data["open"], data["added"]) == (3, 1, 1)
    again = runner.invoke(main, ["pmc", "fetch", "91000003"])
    assert again.exit_code == 0 and "1 unchanged" in again.stdout
    updated = runner.invoke(main, ["pmc", "fetch", "--updated-since", "2026-11-01", "--json"])
    assert updated.exit_code == 0, updated.output
    assert (json.loads(updated.stdout)["asked"], json.loads(updated.stdout)["unchanged"]) == (1, 1)


def test_updated_oa_texts_are_found_through_resumption_tokens_and_fetched_again(ncbi, tmp_path: Path, fixtures) -> None:
    from datetime import date

    from bedside.pubmed.pmc import oa_updated_since, refresh_full_text

    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b, client_for(ncbi, tmp_path) as client:
        assert b.ingest([fixtures / "medline" / "retractions.xml"]).ok
        assert fetch_full_text(client, b.kb, ["91000003"]).ingest.added == 1
        ncbi.log.clear()
        records = list(oa_updated_since(client, date(2026, 11, 1)))
        assert [r.pmcid for r in records] == ["PMC9199001", "PMC9100003", "PMC9199002"]
        asked = [p for _, e, p in ncbi.log if e == "oa.fcgi"]
        assert asked[0]["from"] == "2026-11-01" and asked[1]["resumptionToken"] == "bc7f1e20a9d34c1e"
        report = refresh_full_text(client, b.kb, date(2026, 11, 1))
        assert (report.asked, report.open, report.ingest.unchanged) == (1, 1, 1)  # only the text we hold
