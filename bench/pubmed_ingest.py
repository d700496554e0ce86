"""Ingest throughput of `bedside pubmed ingest` (EFetch pages) and `bedside pubmed sync` (a baseline-format file)
beside plain `bedside ingest` of the same MEDLINE XML, in one process.

    python bench/pubmed_ingest.py [--records 5000] [--page 500] [--embedder hashing]

The records are synthetic MEDLINE citations (title, structured abstract, MeSH, publication types). The E-utilities
answer from memory through httpx.MockTransport (ESearch on the history server, EFetch pages sliced from the same
XML), so the figure is bedside's own cost per document (parsing, chunking, storing, indexing) plus the client's,
not NCBI's latency; the rate limit is set high enough not to wait. Each run writes into a fresh data directory.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import tempfile
import time
from pathlib import Path

ARTICLE = (
    '<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>'
    "<Article><Journal><JournalIssue><PubDate><Year>{year}</Year></PubDate></JournalIssue>"
    "<Title>Bench Journal of Synthetic Medicine</Title></Journal>"
    "<ArticleTitle>Synthetic trial {pmid} of drug {drug} for condition {cond}</ArticleTitle><Abstract>"
    '<AbstractText Label="BACKGROUND">Condition {cond} affects many adults; drug {drug} is one option.</AbstractText>'
    '<AbstractText Label="METHODS">We randomly assigned {n} adults to drug {drug} or placebo for {weeks} weeks.'
    '</AbstractText><AbstractText Label="RESULTS">The primary outcome improved in {pct}% with drug {drug} versus'
    ' {pct2}% with placebo. Adverse events were similar.</AbstractText><AbstractText Label="CONCLUSIONS">Drug {drug}'
    " improved condition {cond} in this synthetic trial.</AbstractText></Abstract><PublicationTypeList>"
    "<PublicationType>Journal Article</PublicationType><PublicationType>Randomized Controlled Trial</PublicationType>"
    "</PublicationTypeList></Article><MeshHeadingList><MeshHeading><DescriptorName>Condition {cond}</DescriptorName>"
    "</MeshHeading></MeshHeadingList></MedlineCitation></PubmedArticle>\n"
)
HEAD = '<?xml version="1.0" ?>\n<PubmedArticleSet>\n'


def records(n: int) -> list[str]:
    return [
        ARTICLE.format(
            pmid=40_000_000 + i,
            year=2000 + i % 25,
            drug=f"D{i % 97}",
            cond=f"C{i % 53}",
            n=50 + i % 400,
            weeks=4 + i % 20,
            pct=30 + i % 40,
            pct2=20 + i % 30,
        )
        for i in range(n)
    ]


def transport(recs: list[str]):
    from urllib.parse import parse_qs

    import httpx

    ids = [re.search(r"<PMID[^>]*>(\d+)<", r).group(1) for r in recs]  # type: ignore[union-attr]
    by_id = dict(zip(ids, recs, strict=True))

    def handle(request: httpx.Request) -> httpx.Response:
        params = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        if request.method == "POST":
            params.update({k: v[-1] for k, v in parse_qs(request.content.decode()).items()})
        if request.url.path.endswith("esearch.fcgi"):
            shown = ids[int(params.get("retstart", 0)) : int(params.get("retstart", 0)) + int(params["retmax"])]
            body = (
                f"<eSearchResult><Count>{len(ids)}</Count><RetMax>{len(shown)}</RetMax><RetStart>0</RetStart>"
                "<QueryKey>1</QueryKey><WebEnv>MCID_bench</WebEnv><IdList>"
                + "".join(f"<Id>{i}</Id>" for i in shown)
                + "</IdList></eSearchResult>"
            )
            return httpx.Response(200, content=body.encode())
        if "WebEnv" in params:
            start, size = int(params["retstart"]), int(params["retmax"])
            page = recs[start : start + size]
        else:
            page = [by_id[i] for i in params["id"].split(",")]
        return httpx.Response(200, content=(HEAD + "".join(page) + "</PubmedArticleSet>\n").encode())

    return httpx.MockTransport(handle)


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from bedside import Bedside
    from bedside.config import load_settings
    from bedside.pubmed.eutils import EUtils, NcbiConfig
    from bedside.pubmed.harvest import HarvestLog, harvest
    from bedside.pubmed.ncbi_rate import RateLimit
    from bedside.pubmed.sync import sync_distribution

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--page", type=int, default=500)
    parser.add_argument("--embedder", default="hashing")
    args = parser.parse_args()
    recs = records(args.records)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plain = root / "pubmed25n0001.xml"
        plain.write_text(HEAD + "".join(recs) + "</PubmedArticleSet>\n", encoding="utf-8")
        dist = root / "dist"
        dist.mkdir()
        gz = dist / "pubmed25n0001.xml.gz"
        gz.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
        digest = hashlib.md5(gz.read_bytes(), usedforsecurity=False).hexdigest()
        (dist / "pubmed25n0001.xml.gz.md5").write_text(f"MD5(pubmed25n0001.xml.gz)= {digest}\n")

        def fresh(name: str) -> Bedside:
            return Bedside(settings=load_settings(data_dir=root / name, starter_kb=False, embedder=args.embedder))

        with fresh("plain") as b:
            t = time.perf_counter()
            report = b.ingest([plain])
            rows.append(("bedside ingest FILE.xml (baseline)", report.added, time.perf_counter() - t))
        with fresh("efetch") as b:
            limit = RateLimit(root / "limits", "", 1e6)
            client = EUtils(NcbiConfig(base_url="https://eutils.example/"), limit, transport=transport(recs))
            log = HarvestLog(root / "efetch" / "pubmed" / "harvest.sqlite")
            t = time.perf_counter()
            got = harvest(client, b.kb, log, "bench", page=args.page)
            rows.append(
                (f"bedside pubmed ingest (EFetch pages of {args.page})", got.ingest.added, time.perf_counter() - t)
            )
            client.close()
            log.close()
        with fresh("sync") as b:
            t = time.perf_counter()
            synced = sync_distribution(b.kb, dist)
            rows.append(
                ("bedside pubmed sync (baseline .xml.gz, MD5 checked)", synced.ingest.added, time.perf_counter() - t)
            )
    table = Table(title=f"{args.records} synthetic MEDLINE records, embedder {args.embedder}", title_justify="left")
    for col in ("run", "documents", "seconds", "documents/s", "vs baseline"):
        table.add_column(col)
    base = rows[0][1] / rows[0][2]
    for name, docs, secs in rows:
        table.add_row(name, str(docs), f"{secs:.2f}", f"{docs / secs:.0f}", f"{docs / secs / base:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
