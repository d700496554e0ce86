"""A client for NCBI's E-utilities (ESearch with the history server, EFetch in pages) for PubMed.

Every request names the tool and contact email (and API key when configured), waits for its turn under the key's
shared rate limit (`ncbi_rate.py`), and is retried with exponential backoff on 429 and 5xx answers and on network
errors, honouring Retry-After. Long id lists go by POST, as NCBI asks for more than about 200 ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from lxml import etree

from bedside.errors import InvalidInput, UpstreamError
from bedside.pubmed.ncbi_rate import RateLimit

__all__ = ["ESEARCH_CAP", "EUtils", "NcbiConfig", "SearchResult"]

# ESearch returns at most the first 10,000 ids of a result set (retstart + retmax); larger sets are split by date.
ESEARCH_CAP = 10_000
POST_ABOVE = 200  # ids in one request above which the request goes by POST
RETRIED = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class NcbiConfig:
    """Who is asking and where: NCBI wants a tool name and a contact email with every request."""

    base_url: str = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
    tool: str = "bedside"
    email: str = ""
    api_key: str = ""
    timeout: float = 60.0
    max_retries: int = 5
    backoff: float = 1.0  # the first retry's delay in seconds; doubled for each further one (at most 60)
    idconv_url: str = "https://pmc.ncbi.nlm.nih.gov/tools/idconv/api/v1/articles/"  # PMC ID Converter
    oa_url: str = "https://www.ncbi.nlm.nih.gov/pmc/utils/oa/oa.fcgi"  # PMC OA Web Service


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One ESearch: how many records match, the ids returned, and the history-server handle for EFetch."""

    count: int
    ids: tuple[str, ...]
    webenv: str = ""
    query_key: str = ""
    translation: str = ""


class EUtils:
    """ESearch and EFetch for PubMed over httpx; `transport` replaces the network (recorded responses in tests)."""

    def __init__(
        self,
        config: NcbiConfig,
        limit: RateLimit,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.limit = limit
        self._sleep = sleep
        self._http = httpx.Client(base_url=config.base_url, timeout=config.timeout, transport=transport)
        self.requests = 0  # sent, retries included
        self.retries = 0

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> EUtils:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def esearch(
        self,
        term: str,
        *,
        retmax: int = ESEARCH_CAP,
        retstart: int = 0,
        mindate: date | None = None,
        maxdate: date | None = None,
        datetype: str = "edat",
    ) -> SearchResult:
        """Search PubMed, keeping the result on the history server (usehistory=y); dates bound the Entrez date by
        default (`datetype` edat), inclusive."""
        if not term.strip():
            raise InvalidInput("the PubMed query is empty")
        if retstart + retmax > ESEARCH_CAP:
            raise InvalidInput(f"ESearch returns at most the first {ESEARCH_CAP} ids (retstart + retmax)")
        params: dict[str, Any] = {
            "db": "pubmed",
            "term": term,
            "usehistory": "y",
            "retmax": retmax,
            "retstart": retstart,
        }
        if mindate or maxdate:
            params.update(
                datetype=datetype, mindate=_day(mindate or date(1781, 1, 1)), maxdate=_day(maxdate or date.today())
            )
        root = _xml(self._call("esearch.fcgi", params).content, "ESearch")
        count = root.findtext("Count")
        if count is None:
            raise UpstreamError("NCBI ESearch answered without a Count")
        return SearchResult(
            count=int(count),
            ids=tuple(i.text.strip() for i in root.iterfind("IdList/Id") if i.text),
            webenv=(root.findtext("WebEnv") or "").strip(),
            query_key=(root.findtext("QueryKey") or "").strip(),
            translation=(root.findtext("QueryTranslation") or "").strip(),
        )

    def efetch_history(self, webenv: str, query_key: str, retstart: int, retmax: int) -> bytes:
        """One page of PubMed XML from a result set kept on the history server."""
        params = {
            "db": "pubmed",
            "WebEnv": webenv,
            "query_key": query_key,
            "retstart": retstart,
            "retmax": retmax,
            "retmode": "xml",
        }
        return _articles(self._call("efetch.fcgi", params).content)

    def efetch_ids(self, ids: Sequence[str]) -> bytes:
        """PubMed XML for these PMIDs (by POST for a long list)."""
        if not ids:
            raise InvalidInput("no PMIDs to fetch")
        bad = [i for i in ids if not i.isdigit()]
        if bad:
            raise InvalidInput(f"not a PMID: {bad[0]!r}")
        params = {"db": "pubmed", "id": ",".join(ids), "retmode": "xml"}
        return _articles(self._call("efetch.fcgi", params, post=len(ids) > POST_ABOVE).content)

    def efetch_pmc(self, pmcids: Sequence[str]) -> bytes:
        """JATS XML (a pmc-articleset) for these PMC articles."""
        numbers = [p.upper().removeprefix("PMC") for p in pmcids]
        bad = [p for p in numbers if not p.isdigit()]
        if bad or not numbers:
            raise InvalidInput(f"not a PMCID: {bad[0]!r}" if bad else "no PMCIDs to fetch")
        params = {"db": "pmc", "id": ",".join(numbers), "retmode": "xml"}
        response = self.call("efetch.fcgi", params, post=len(numbers) > POST_ABOVE)
        if b"<pmc-articleset" not in response.content[:2000] and b"<ERROR>" in response.content[:5000]:
            _xml(response.content, "EFetch")
        return response.content

    def call(self, path: str, params: dict[str, Any], *, post: bool = False) -> httpx.Response:
        """A request to an E-utility (a path under the base URL) or another NCBI service (a full URL), with the
        identity, rate limit and retries of every request."""
        return self._call(path, params, post=post)

    def _call(self, path: str, params: dict[str, Any], *, post: bool = False) -> httpx.Response:
        """Send under the rate limit; retry 429, 5xx and network errors with backoff; UpstreamError when done."""
        params = {**params, "tool": self.config.tool}
        if self.config.email:
            params["email"] = self.config.email
        if self.config.api_key:
            params["api_key"] = self.config.api_key
        last = ""
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                self.retries += 1
            self.limit.acquire()
            self.requests += 1
            try:
                response = self._http.post(path, data=params) if post else self._http.get(path, params=params)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                self._sleep(self._delay(attempt, None))
                continue
            if response.status_code in RETRIED:
                last = f"HTTP {response.status_code}"
                self._sleep(self._delay(attempt, response.headers.get("Retry-After")))
                continue
            if response.status_code >= 400:
                raise UpstreamError(f"NCBI {path} answered HTTP {response.status_code}: {response.text[:200]}")
            return response
        raise UpstreamError(f"NCBI {path} failed after {self.config.max_retries + 1} attempts ({last})")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return float(retry_after)
        return float(min(60.0, self.config.backoff * 2.0**attempt))


def _day(d: date) -> str:
    return d.strftime("%Y/%m/%d")


def _xml(content: bytes, what: str) -> etree._Element:
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise UpstreamError(f"NCBI {what} answered malformed XML: {exc}") from None
    error = root.findtext("ERROR")
    if error:
        raise UpstreamError(f"NCBI {what}: {error.strip()}")
    return root


def _articles(content: bytes) -> bytes:
    """The EFetch body, or UpstreamError when NCBI answered with an error document instead of articles."""
    head = content[:2000]
    if b"<PubmedArticleSet" not in head and b"<ERROR>" in content[:5000]:
        _xml(content, "EFetch")  # raises with NCBI's message
        raise UpstreamError("NCBI EFetch answered an error instead of articles")
    return content
