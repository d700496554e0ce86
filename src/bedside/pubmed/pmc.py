"""Open-access full text from PubMed Central for documents already in the knowledge base.

For PMIDs (given, or every MEDLINE record in the knowledge base), the PMC ID Converter finds their PMCIDs (200 a
request), the PMC OA Web Service says which are in the Open Access Subset and under which licence, and only those
under an open licence (Creative Commons or public domain) are fetched, as JATS, by EFetch from PMC. The licence is
recorded on the document (`extra` "license"), beside the JATS reader's own reading of the article's permissions.
A retracted article is never fetched.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date

from lxml import etree

from bedside.errors import UpstreamError
from bedside.ingest.jats import read_jats
from bedside.knowledge import IngestReport, KnowledgeBase
from bedside.model import Document
from bedside.pubmed.eutils import EUtils

__all__ = [
    "OaRecord",
    "PmcReport",
    "fetch_full_text",
    "is_open_licence",
    "oa_record",
    "oa_updated_since",
    "pmcids_for",
    "refresh_full_text",
]
MAX_OA_PAGES = 10_000  # a guard against a resumption token that never ends

IDCONV_BATCH = 200
FETCH_BATCH = 50
# Licences that allow reuse of the text: Creative Commons (any variant), CC0 and the public domain. The OA subset
# also holds articles under a publisher's own terms ("NO-CC CODE"): those are not fetched.
_OPEN = re.compile(r"^\s*(cc0|cc[ -]by(?:[ -](?:nc|sa|nd))*|public[ -]domain)\b", re.I)


def is_open_licence(licence: str) -> bool:
    """True for a Creative Commons, CC0 or public-domain licence as the OA Web Service names them."""
    return bool(_OPEN.match(licence))


@dataclass(frozen=True, slots=True)
class OaRecord:
    """An article of the PMC Open Access Subset, as the OA Web Service describes it."""

    pmcid: str
    licence: str
    retracted: bool = False
    citation: str = ""


@dataclass
class PmcReport:
    """What a full-text run found and did."""

    asked: int = 0  # PMIDs looked up
    in_pmc: int = 0  # of them with a PMCID
    open: int = 0  # in the OA subset under an open licence
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (PMCID, why not fetched)
    ingest: IngestReport = field(default_factory=IngestReport)


def pmcids_for(client: EUtils, pmids: Iterable[str]) -> dict[str, str]:
    """PMID -> PMCID for those of these PMIDs that are in PMC."""
    wanted = list(dict.fromkeys(p for p in pmids if p.isdigit()))
    out: dict[str, str] = {}
    for i in range(0, len(wanted), IDCONV_BATCH):
        batch = wanted[i : i + IDCONV_BATCH]
        response = client.call(client.config.idconv_url, {"ids": ",".join(batch), "idtype": "pmid", "format": "json"})
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            raise UpstreamError(f"PMC ID Converter answered malformed JSON: {exc}") from None
        if data.get("status") not in (None, "ok"):
            raise UpstreamError(f"PMC ID Converter: {data.get('message') or data.get('status')}")
        for record in data.get("records", []):
            pmid, pmcid = str(record.get("pmid") or ""), str(record.get("pmcid") or "")
            if pmid and pmcid and record.get("status") != "error":
                out[pmid] = pmcid
    return out


def _oa(client: EUtils, params: dict[str, str]) -> etree._Element | None:
    """One OA Web Service answer; None for "not open access" and "no such id", UpstreamError for other errors."""
    content = client.call(client.config.oa_url, params).content
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise UpstreamError(f"PMC OA Web Service answered malformed XML: {exc}") from None
    error = root.find("error")
    if error is not None:
        if error.get("code") in ("idIsNotOpenAccess", "idDoesNotExist"):
            return None
        raise UpstreamError(f"PMC OA Web Service: {(error.text or error.get('code') or '').strip()}")
    return root


def _record(record: etree._Element, pmcid: str = "") -> OaRecord:
    return OaRecord(
        pmcid=record.get("id") or pmcid,
        licence=(record.get("license") or "").strip(),
        retracted=(record.get("retracted") or "").lower() == "yes",
        citation=record.get("citation") or "",
    )


def oa_record(client: EUtils, pmcid: str) -> OaRecord | None:
    """The OA Web Service's record for an article, or None when it is not in the Open Access Subset."""
    root = _oa(client, {"id": pmcid})
    record = root.find("records/record") if root is not None else None
    return _record(record, pmcid) if record is not None else None


def oa_updated_since(client: EUtils, since: date) -> Iterator[OaRecord]:
    """Every OA-subset record added or updated on or after `since`, following the service's resumption tokens."""
    params = {"from": since.isoformat()}
    for _ in range(MAX_OA_PAGES):
        root = _oa(client, params)
        if root is None:
            return
        for record in root.iterfind("records/record"):
            yield _record(record)
        link = root.find(".//resumption/link")
        token = link.get("token") if link is not None else None
        if not token:
            return
        params = {"resumptionToken": token}
    raise UpstreamError(f"PMC OA Web Service: more than {MAX_OA_PAGES} pages of updates; give a later date")


def refresh_full_text(client: EUtils, kb: KnowledgeBase, since: date, *, collection: str = "") -> PmcReport:
    """Fetch again the full texts in the knowledge base that the OA subset updated since `since` (licence checked
    again; a text whose record is now retracted or no longer open is reported, not fetched)."""
    held = {d.upper(): d for d in kb.store.document_ids() if d.upper().startswith("PMC")}
    report = PmcReport()
    licences: dict[str, str] = {}
    for record in oa_updated_since(client, since):
        pmcid = record.pmcid.upper()
        if pmcid not in held:
            continue
        report.asked += 1
        if record.retracted:
            report.skipped.append((pmcid, "retracted"))
        elif not is_open_licence(record.licence):
            report.skipped.append((pmcid, f"licence {record.licence or 'unknown'} is not an open licence"))
        else:
            licences[pmcid] = record.licence
    report.in_pmc = report.asked
    report.open = len(licences)
    _fetch(client, kb, licences, collection, report)
    return report


def fetch_full_text(client: EUtils, kb: KnowledgeBase, pmids: Iterable[str], *, collection: str = "") -> PmcReport:
    """Ingest the open-licence full text of these PMIDs' articles, each with its licence recorded."""
    wanted = list(dict.fromkeys(pmids))
    report = PmcReport(asked=len(wanted))
    found = pmcids_for(client, wanted)
    report.in_pmc = len(found)
    retracted = {d.pmid for d in kb.store.document_heads(list(found)).values() if d.retracted}
    licences: dict[str, str] = {}
    for pmid, pmcid in found.items():
        if pmid in retracted:
            report.skipped.append((pmcid, "retracted"))
            continue
        record = oa_record(client, pmcid)
        if record is None:
            report.skipped.append((pmcid, "not in the PMC Open Access Subset"))
        elif record.retracted:
            report.skipped.append((pmcid, "retracted"))
        elif not is_open_licence(record.licence):
            report.skipped.append((pmcid, f"licence {record.licence or 'unknown'} is not an open licence"))
        else:
            licences[pmcid.upper()] = record.licence
    report.open = len(licences)
    _fetch(client, kb, licences, collection, report)
    return report


def _fetch(client: EUtils, kb: KnowledgeBase, licences: dict[str, str], collection: str, report: PmcReport) -> None:
    """EFetch these PMC articles as JATS and ingest them, each with its licence recorded."""
    chosen = list(licences)
    for i in range(0, len(chosen), FETCH_BATCH):
        xml = client.efetch_pmc(chosen[i : i + FETCH_BATCH])
        items = [
            _licensed(item, licences) if isinstance(item, Document) else item
            for item in read_jats(io.BytesIO(xml), "PMC EFetch")
        ]
        kb.ingest_records(
            [i for i in items if not isinstance(i, Document) or i.id.upper() in licences],
            collection=collection,
            report=report.ingest,
        )


def _licensed(doc: Document, licences: dict[str, str]) -> Document:
    licence = licences.get(doc.id.upper())
    if licence is None:
        return doc
    extra = (*tuple((k, v) for k, v in doc.extra if k != "license"), ("license", licence))
    return replace(doc, extra=extra)
