"""Retracted evidence in answers and search: planted retracted articles must never be cited or found by default.

    python bench/retractions.py [--plants 46] [--questions 92] [--embedder hashing]

Builds a knowledge base from the starter digests, then plants, for each of the first `--plants` digests, a MEDLINE
record that copies the digest's title and opening text (so it is as relevant to the digest's questions as the
digest itself) and is marked retracted: half by the record itself ("Retracted Publication", RetractionIn), half
only by a separate retraction notice ingested with it (RetractionOf), as happens when a notice arrives after the
article. The notices are planted too. Every digest gives two questions ("What is the first-line treatment for
TOPIC?", "How is TOPIC diagnosed?").

Figures, each beside the baseline run in the same process over the same knowledge base: the baseline reads the
planted records as a reader that ignores retraction markers would (every document treated as evidence), which is
what bedside did before it read them.
- search: top-10 hit lists (one per question) that include a planted retracted article or notice;
- answers: answers that cite a planted retracted article or notice.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from xml.sax.saxutils import escape


def _record(pmid: str, title: str, abstract: str, pub_types: list[str], links: list[tuple[str, str]]) -> str:
    types = "".join(f"<PublicationType>{escape(t)}</PublicationType>" for t in pub_types)
    cc = "".join(
        f'<CommentsCorrections RefType="{kind}"><RefSource>Bench J. 2025</RefSource><PMID>{target}</PMID>'
        "</CommentsCorrections>"
        for kind, target in links
    )
    return (
        f"<PubmedArticle><MedlineCitation><PMID>{pmid}</PMID><Article><Journal><JournalIssue><PubDate><Year>2024"
        f"</Year></PubDate></JournalIssue><Title>Bench Journal of Planted Records</Title></Journal>"
        f"<ArticleTitle>{escape(title)}</ArticleTitle><Abstract><AbstractText>{escape(abstract)}</AbstractText>"
        f"</Abstract><PublicationTypeList>{types}</PublicationTypeList></Article>"
        + (f"<CommentsCorrectionsList>{cc}</CommentsCorrectionsList>" if cc else "")
        + "</MedlineCitation></PubmedArticle>\n"
    )


def plant(digests: list, out: Path) -> set[str]:
    """Write the planted records; returns their ids (retracted articles and notices)."""
    records, ids = [], set()
    for i, d in enumerate(digests):
        article, notice = str(95_000_000 + 2 * i), str(95_000_001 + 2 * i)
        body = " ".join(d.text.split())[:1500]
        self_marked = i % 2 == 0
        types = ["Journal Article", "Randomized Controlled Trial"] + (["Retracted Publication"] if self_marked else [])
        links = [("RetractionIn", notice)] if self_marked else []
        records.append(_record(article, d.title, body, types, links))
        records.append(
            _record(
                notice,
                f"Retraction notice to: {d.title}",
                f"This article has been retracted: {d.title}.",
                ["Journal Article", "Retraction of Publication"],
                [("RetractionOf", article)],
            )
        )
        ids |= {article, notice}
    out.write_text("<?xml version='1.0'?>\n<PubmedArticleSet>\n" + "".join(records) + "</PubmedArticleSet>\n")
    return ids


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from bedside import Bedside
    from bedside.answer.pipeline import AskContext, answer_question
    from bedside.config import load_settings
    from bedside.index.protocols import Filters

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plants", type=int, default=46, help="digests that get a retracted twin")
    parser.add_argument("--questions", type=int, default=92, help="questions asked (two per digest)")
    parser.add_argument("--embedder", default="hashing", help="embedding model (default: the fast hashing one)")
    args = parser.parse_args()

    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        b = Bedside(settings=load_settings(data_dir=Path(tmp) / "data", starter_kb=True, embedder=args.embedder))
        b.ensure_starter_kb()
        digests = [d for d in b.kb.documents() if d.guideline or d.topics][: args.plants]
        planted = plant(digests, Path(tmp) / "planted.xml")
        started = time.perf_counter()
        report = b.ingest([Path(tmp) / "planted.xml"])
        if report.failed:
            sys.exit(f"planting failed: {report.failed}")
        topics = [d.topics[0] for d in b.kb.documents() if d.topics and d.id not in planted]
        asked = [q for t in topics for q in (f"What is the first-line treatment for {t}?", f"How is {t} diagnosed?")]
        asked = asked[: args.questions]

        def search(include: bool):
            config = replace(b.searcher.config, depth=100)
            return lambda q, n: b.searcher.search(q, n, Filters(include_withdrawn=include), config)

        def unaware(ids):  # the baseline reader: no retraction markers read
            return {
                k: replace(d, retracted=False, notice="", corrections=()) for k, d in b.store.documents(ids).items()
            }

        rows = {}
        # The baseline: every record is evidence (search keeps withdrawn documents, documents read unmarked).
        hit_lists = answers = 0
        for q in asked:
            hit_lists += bool({h.document_id for h in search(True)(q, 10)} & planted)
            ctx = AskContext(
                search=search(True),
                documents=unaware,
                today="2026-12-06",
                search_in=lambda q, n, ids: b.searcher.search(
                    q, n, Filters(document_ids=frozenset(ids), include_withdrawn=True)
                ),
                known_terms=b.lexical.known,
            )
            answers += bool({r.document_id for r in answer_question(q, "clinician", ctx).references} & planted)
        rows["baseline (markers ignored)"] = (hit_lists, answers)
        # bedside as users call it: Bedside.search and Bedside.ask with their defaults.
        hit_lists = answers = 0
        for q in asked:
            hit_lists += bool({h.document_id for h in b.search(q, 10)} & planted)
            answers += bool({r.document_id for r in b.ask(q).references} & planted)
        rows["bedside"] = (hit_lists, answers)
        elapsed = time.perf_counter() - started
        b.close()

    table = Table(
        title=f"{len(planted)} planted records ({len(planted) // 2} retracted, {len(planted) // 2} notices), "
        f"{len(asked)} questions",
        title_justify="left",
    )
    for col in ("run", "top-10 searches with a retracted/notice hit", "answers citing a retracted/notice"):
        table.add_column(col)
    for name, (hits, cites) in rows.items():
        table.add_row(name, f"{hits} / {len(asked)}", f"{cites} / {len(asked)}")
    console.print(table)
    console.print(f"({elapsed:.1f} s, embedder {args.embedder})")


if __name__ == "__main__":
    main()
