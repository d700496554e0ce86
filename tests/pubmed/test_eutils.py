"""The E-utilities client: identity on every request, history-server search, paging, POST for long id lists,
backoff on 429 and 5xx, the shared rate limit, and harvests that resume without fetching anything twice."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import date, timedelta

import pytest
from ncbi_fake import FakeNcbi, client_for, fake_ncbi, rate_limited_body

from bedside import Bedside
from bedside.errors import InvalidInput, UpstreamError
from bedside.pubmed.harvest import HarvestLog, HarvestReport, date_windows, harvest
from bedside.pubmed.ncbi_rate import RateLimit, rate_for


@pytest.fixture
def ncbi() -> FakeNcbi:
    """PubMed and PMC as the E-utilities show them (tests/fixtures/eutils, tests/fixtures/pmc)."""
    return fake_ncbi()


def test_esearch_keeps_the_result_on_the_history_server_and_names_the_tool(ncbi, tmp_path) -> None:
    with client_for(ncbi, tmp_path, api_key="k3y") as client:
        found = client.esearch("example bronchitis", mindate=date(2019, 1, 1), maxdate=date(2019, 1, 3))
    assert found.count == 3 and found.ids == ("91000003", "91000002", "91000001")
    assert found.webenv == "MCID_fake0001" and found.query_key == "1"
    assert found.translation.startswith('"example"[All Fields]')
    [(method, endpoint, params)] = ncbi.log
    assert (method, endpoint) == ("GET", "esearch.fcgi")
    assert params["usehistory"] == "y" and params["db"] == "pubmed" and params["tool"] == "bedside"
    assert params["email"] == "ops@example.org" and params["api_key"] == "k3y"
    assert (params["datetype"], params["mindate"], params["maxdate"]) == ("edat", "2019/01/01", "2019/01/03")


def test_a_429_is_retried_after_the_time_ncbi_asks(ncbi, tmp_path) -> None:
    assert rate_limited_body()["error"] == "API rate limit exceeded"
    ncbi.faults["esearch.fcgi"] = [429, 503]
    sleeps: list[float] = []
    with client_for(ncbi, tmp_path, sleeps, backoff=0.5) as client:
        assert client.esearch("example bronchitis").count == 6
        assert (client.requests, client.retries) == (3, 2)
    assert sleeps == [2.0, 1.0]  # Retry-After of the 429, then the backoff's second step


def test_errors_that_persist_or_are_not_transient_are_reported(ncbi, tmp_path) -> None:
    ncbi.faults["esearch.fcgi"] = [500] * 3
    with client_for(ncbi, tmp_path, max_retries=2) as client, pytest.raises(UpstreamError, match="after 3 attempts"):
        client.esearch("example bronchitis")
    ncbi.faults["esearch.fcgi"] = [400]
    with client_for(ncbi, tmp_path) as client, pytest.raises(UpstreamError, match="HTTP 400"):
        client.esearch("example bronchitis")
    with client_for(ncbi, tmp_path) as client, pytest.raises(UpstreamError, match="Unable to obtain query #1"):
        client.efetch_history("MCID_expired", "1", 0, 10)
    with client_for(ncbi, tmp_path) as client, pytest.raises(InvalidInput, match="not a PMID"):
        client.efetch_ids(["123", "12x"])


def test_long_id_lists_are_posted(ncbi, tmp_path) -> None:
    with client_for(ncbi, tmp_path) as client:
        short = client.efetch_ids(["91000001", "91000003"])
        long = client.efetch_ids(["91000001"] + [str(10**7 + i) for i in range(250)])
    assert short.count(b"<PubmedArticle>") == 2 and long.count(b"<PubmedArticle>") == 1
    assert [m for m, _, _ in ncbi.log] == ["GET", "POST"]
    assert ncbi.log[1][2]["id"].startswith("91000001,10000000,")


def test_one_rate_limit_per_key_is_shared_by_every_worker(tmp_path) -> None:
    assert (rate_for(""), rate_for("key")) == (3.0, 10.0)
    starts: list[float] = []
    woke: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        limit = RateLimit(tmp_path, "shared-key", 40.0)  # each worker its own object, as separate processes have
        for _ in range(4):
            booked = limit.acquire()
            with lock:
                starts.append(booked)
                woke.append(time.time())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    starts.sort()
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 12 and min(gaps) >= 1 / 40 - 1e-6  # the turns booked: 1/40 s apart across workers
    assert max(woke) - min(woke) >= 11 / 40 - 0.01  # and the workers did wait for them
    other = RateLimit(tmp_path, "another-key", 40.0)
    assert other.path != RateLimit(tmp_path, "shared-key", 40.0).path and "another-key" not in other.path.name


def test_a_large_result_is_split_into_date_windows_below_the_esearch_cap(tmp_path) -> None:
    day0 = date(2000, 1, 1)
    dates = {str(30_000_000 + i): day0 + timedelta(days=i // 7) for i in range(25_000)}  # 7 records a day
    ncbi = FakeNcbi({}, dates)
    report = HarvestReport()
    with client_for(ncbi, tmp_path) as client:
        windows = date_windows(client, "everything", None, date(2010, 12, 31), report)
    assert report.found == 25_000 and len(windows) >= 3
    assert all(w.count < 10_000 for w in windows) and sum(w.count for w in windows) == 25_000
    for a, b in itertools.pairwise(windows):
        assert a.end is not None and b.start == a.end + timedelta(days=1)  # no gap, no overlap


def test_harvest_pages_through_the_history_server_and_resumes_a_killed_run(ncbi, tmp_path) -> None:
    data = tmp_path / "data"
    with Bedside(data_dir=data, starter_kb=False) as b:
        log = HarvestLog(data / "pubmed" / "harvest.sqlite")
        ncbi.die_after["efetch.fcgi"] = 2  # the third page never comes: the run dies there
        with client_for(ncbi, tmp_path, max_retries=1) as client, pytest.raises(UpstreamError):
            harvest(client, b.kb, log, "example bronchitis", page=2)
        first = ncbi.fetched_ids()
        assert len(first) == 4 and b.store.counts()[0] == 4
        assert all("WebEnv" in p for _, e, p in ncbi.log if e == "efetch.fcgi")  # a fresh run pages the history

        del ncbi.die_after["efetch.fcgi"]
        ncbi.log.clear()
        progress: list[tuple[int, int]] = []
        with client_for(ncbi, tmp_path) as client:
            report = harvest(
                client, b.kb, log, "example bronchitis", page=2, progress=lambda d, t: progress.append((d, t))
            )
        again = ncbi.fetched_ids()
        assert sorted(again) == sorted(set(ncbi.records) - set(first))  # only what the killed run did not get
        assert (report.found, report.already, report.planned, report.fetched) == (6, 4, 2, 2)
        assert report.ingest.added == 2 and report.ingest.unchanged == 0 and progress == [(2, 2)]
        assert b.store.counts()[0] == 6 and b.store.document("91000001").retracted

        ncbi.log.clear()
        with client_for(ncbi, tmp_path) as client:
            done = harvest(client, b.kb, log, "example bronchitis")
        assert done.fetched == 0 and ncbi.fetched_ids() == []  # current: nothing fetched at all
        log.close()


def test_max_caps_what_a_run_fetches(ncbi, tmp_path) -> None:
    data = tmp_path / "data"
    with Bedside(data_dir=data, starter_kb=False) as b, client_for(ncbi, tmp_path) as client:
        log = HarvestLog(data / "pubmed" / "harvest.sqlite")
        report = harvest(client, b.kb, log, "example bronchitis", max_records=2, collection="pubmed-alerts")
        assert report.fetched == 2 and b.store.collections() == {"pubmed-alerts": 2}
        with pytest.raises(InvalidInput, match="--max"):
            harvest(client, b.kb, log, "example bronchitis", max_records=0)
        with pytest.raises(InvalidInput, match="after"):
            harvest(client, b.kb, log, "x", since=date(2030, 1, 1), until=date(2020, 1, 1))
        log.close()


def test_the_pubmed_commands(ncbi, tmp_path, monkeypatch) -> None:
    import json

    from click.testing import CliRunner

    import bedside.cli.pubmed
    from bedside.cli import main

    monkeypatch.setenv("BEDSIDE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BEDSIDE_STARTER_KB", "false")
    monkeypatch.setenv("BEDSIDE_NCBI_EMAIL", "ops@example.org")
    monkeypatch.setattr(bedside.cli.pubmed, "transport", ncbi.transport)
    runner = CliRunner()
    found = runner.invoke(main, ["pubmed", "search", "example bronchitis", "--max", "2", "--json"])
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["count"] == 6 and json.loads(found.stdout)["pmids"] == ["91000009", "91000005"]
    first = runner.invoke(main, ["pubmed", "ingest", "example bronchitis", "--max", "4", "--page-size", "3"])
    assert first.exit_code == 0, first.output
    assert "6 match; 0 ingested before; 4 fetched in 1 date window(s)" in first.stdout
    second = runner.invoke(main, ["pubmed", "ingest", "example bronchitis", "--since", "2019-01-01"])
    assert second.exit_code == 0, second.output
    assert "6 match; 4 ingested before; 2 fetched" in second.stdout and "2 added" in second.stdout
    hits = runner.invoke(main, ["search", "zanthoxin", "--json"])
    assert "91000001" not in {h["document_id"] for h in json.loads(hits.stdout)}  # retracted: not found by default
