"""A stand-in for NCBI's E-utilities behind httpx.MockTransport, answering from the constructed fixtures.

Responses follow the templates in tests/fixtures/eutils (see its README): the ids of a page, `Count` for a date
range and the history-server handle are filled in from the request. Faults are scripted per endpoint.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs

import httpx

from bedside.pubmed.eutils import EUtils, NcbiConfig
from bedside.pubmed.ncbi_rate import RateLimit

FIXTURES = Path(__file__).parents[1] / "fixtures"
PMC = FIXTURES / "pmc"
ESEARCH = (FIXTURES / "eutils" / "esearch.xml").read_text(encoding="utf-8")
EFETCH_ERROR = (FIXTURES / "eutils" / "efetch_error.xml").read_bytes()
RATE_LIMITED = (FIXTURES / "eutils" / "rate_limited.json").read_bytes()
HEAD = '<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n<PubmedArticleSet>\n'


def medline_records() -> dict[str, str]:
    """PMID -> PubmedArticle element text, from the retractions fixture."""
    text = (FIXTURES / "medline" / "retractions.xml").read_text(encoding="utf-8")
    found = re.findall(r"<PubmedArticle>.*?</PubmedArticle>", text, re.S)
    return {re.search(r"<PMID[^>]*>(\d+)</PMID>", r).group(1): r for r in found}  # type: ignore[union-attr]


@dataclass
class FakeNcbi:
    """PubMed as the E-utilities show it: records with Entrez dates, the history server, scripted faults."""

    records: dict[str, str]  # pmid -> PubmedArticle XML ("" for search-only records)
    dates: dict[str, date]
    faults: dict[str, list[int]] = field(default_factory=dict)  # endpoint -> status codes to answer next
    die_after: dict[str, int] = field(default_factory=dict)  # endpoint -> answers before a dead connection
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    history: dict[str, list[str]] = field(default_factory=dict)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        params = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        if request.method == "POST":
            params.update({k: v[-1] for k, v in parse_qs(request.content.decode()).items()})
        if endpoint in self.die_after:  # a dead connection: nothing answered, nothing logged
            if self.die_after[endpoint] <= 0:
                raise httpx.ConnectError("connection refused", request=request)
            self.die_after[endpoint] -= 1
        self.log.append((request.method, endpoint, params))
        queued = self.faults.get(endpoint)
        if queued:
            status = queued.pop(0)
            headers = {"Retry-After": "2", "Content-Type": "application/json"} if status == 429 else {}
            return httpx.Response(status, content=RATE_LIMITED if status == 429 else b"busy", headers=headers)
        if endpoint == "esearch.fcgi":
            return self._esearch(params)
        if endpoint == "efetch.fcgi" and params.get("db") == "pmc":
            return httpx.Response(200, content=(PMC / "efetch_pmc.xml").read_bytes())
        if endpoint == "efetch.fcgi":
            return self._efetch(params)
        if endpoint == "articles":  # the PMC ID Converter (its path ends in /articles/)
            return httpx.Response(
                200, content=(PMC / "idconv.json").read_bytes(), headers={"Content-Type": "application/json"}
            )
        if endpoint == "oa.fcgi" and ("from" in params or "resumptionToken" in params):
            page = (
                "oa_updates_page2.xml"
                if params.get("resumptionToken") == "bc7f1e20a9d34c1e"
                else "oa_updates_page1.xml"
            )
            return httpx.Response(200, content=(PMC / page).read_bytes())
        if endpoint == "oa.fcgi":
            answer = {"PMC9100003": "oa_open.xml", "PMC9100009": "oa_restricted.xml"}.get(params["id"])
            return httpx.Response(200, content=(PMC / (answer or "oa_not_open_access.xml")).read_bytes())
        return httpx.Response(404)

    def _matching(self, params: dict[str, str]) -> list[str]:
        ids = sorted(self.dates, key=lambda p: (self.dates[p], p), reverse=True)  # newest first, as PubMed sorts
        if "mindate" in params:
            lo, hi = (date(*map(int, params[k].split("/"))) for k in ("mindate", "maxdate"))
            ids = [p for p in ids if lo <= self.dates[p] <= hi]
        return ids

    def _esearch(self, params: dict[str, str]) -> httpx.Response:
        ids = self._matching(params)
        start, size = int(params.get("retstart", 0)), int(params.get("retmax", 20))
        webenv = f"MCID_fake{len(self.history) + 1:04d}"
        self.history[webenv] = ids
        shown = ids[start : start + size]
        body = re.sub(r"<Count>\d+</Count>", f"<Count>{len(ids)}</Count>", ESEARCH)
        body = re.sub(r"<RetMax>\d+</RetMax>", f"<RetMax>{len(shown)}</RetMax>", body)
        body = re.sub(r"<RetStart>\d+</RetStart>", f"<RetStart>{start}</RetStart>", body)
        body = re.sub(r"<WebEnv>[^<]*</WebEnv>", f"<WebEnv>{webenv}</WebEnv>", body)
        body = re.sub(
            r"<IdList>.*?</IdList>",
            "<IdList>" + "".join(f"\n<Id>{i}</Id>" for i in shown) + "\n</IdList>",
            body,
            flags=re.S,
        )
        return httpx.Response(200, content=body.encode(), headers={"Content-Type": "text/xml; charset=UTF-8"})

    def _efetch(self, params: dict[str, str]) -> httpx.Response:
        if "WebEnv" in params:
            if params["WebEnv"] not in self.history or params.get("query_key") != "1":
                return httpx.Response(200, content=EFETCH_ERROR)
            start, size = int(params["retstart"]), int(params["retmax"])
            ids = self.history[params["WebEnv"]][start : start + size]
        else:
            ids = params["id"].split(",")
        body = HEAD + "".join(self.records[i] + "\n" for i in ids if self.records.get(i)) + "</PubmedArticleSet>\n"
        return httpx.Response(200, content=body.encode(), headers={"Content-Type": "text/xml; charset=UTF-8"})

    def fetched_ids(self) -> list[str]:
        """Every PMID an EFetch returned, in order (a PMID fetched twice appears twice)."""
        out: list[str] = []
        for _, endpoint, params in self.log:
            if endpoint != "efetch.fcgi":
                continue
            if "WebEnv" in params:
                start, size = int(params["retstart"]), int(params["retmax"])
                out += self.history.get(params["WebEnv"], [])[start : start + size]
            else:
                out += params["id"].split(",")
        return out


def fake_ncbi() -> FakeNcbi:
    """PubMed holding the records of the retractions fixture, one Entrez day each from 2019-01-01."""
    records = medline_records()
    days = {pmid: date(2019, 1, 1 + i) for i, pmid in enumerate(sorted(records))}
    return FakeNcbi(records, days)


def client_for(ncbi: FakeNcbi, tmp_path: Path, sleeps: list[float] | None = None, **config: object) -> EUtils:
    cfg = NcbiConfig(base_url="https://eutils.example/entrez/eutils/", email="ops@example.org", **config)  # type: ignore[arg-type]
    limit = RateLimit(tmp_path / "limits", cfg.api_key, 1000.0)
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return EUtils(cfg, limit, transport=ncbi.transport(), sleep=record)


def rate_limited_body() -> dict[str, str]:
    return json.loads(RATE_LIMITED)
