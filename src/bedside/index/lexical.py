"""BM25 over passages with tantivy, fed by our own biomedical analyzer.

The analyzer runs in Python and tantivy indexes its output with a whitespace tokenizer, so index and query
analysis are the same code. The index directory holds a watermark file: the last store change whose effects
were committed. Sync replays everything after it (delete the document's passages, add its current ones), so a
crash between tantivy's commit and the watermark write is repaired by replaying a few changes twice.

It also holds the fingerprint of the analysis its terms were made with (`analysis.fingerprint`). When a newer
bedside analyses text differently (a spelling rule, a unit, a stemmer release), the next sync indexes every passage
again. An index without one was written before fingerprints, by the analysis that first shipped and that has not
changed since: it takes the current fingerprint as it is.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

import tantivy

from bedside.index.protocols import Candidate, ChangeSource, Filters, SyncProgress, SyncReport
from bedside.model import IndexRow
from bedside.text.analysis import QueryAnalyzer, analyze, fingerprint

log = logging.getLogger(__name__)

CONTEXT_BOOST = 0.35  # title/section/topics count, but less than the passage's own words
_CHUNK_DOCUMENTS = 20_000
_REBUILD_ROWS = 20_000  # passages added between progress reports while rebuilding


def _write_durably(path: Path, text: str) -> None:
    """Replace a small file atomically, its content on disk before the rename."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_integer_field("seq", stored=True, indexed=True, fast=True)
    b.add_text_field("doc", stored=False, tokenizer_name="raw", index_option="basic")
    b.add_text_field("text", stored=False, tokenizer_name="whitespace", index_option="freq")
    b.add_text_field("context", stored=False, tokenizer_name="whitespace", index_option="freq")
    b.add_text_field("etype", stored=False, tokenizer_name="raw", index_option="basic")
    b.add_text_field("source", stored=False, tokenizer_name="raw", index_option="basic")
    b.add_integer_field("year", stored=False, indexed=True, fast=True)
    return b.build()


class LexicalIndex:
    """The embedded lexical index (tantivy) in `<data_dir>/lexical`."""

    name = "lexical"

    def __init__(self, path: Path, analyzer: QueryAnalyzer | None = None) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.schema = _schema()
        self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        self.analyzer = analyzer or QueryAnalyzer()
        self._watermark_file = path / "watermark"
        self._fingerprint_file = path / "analysis"

    # -- writing -------------------------------------------------------------------------------

    def watermark(self) -> int:
        """The last store change applied and committed."""
        try:
            return int(self._watermark_file.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def _set_watermark(self, seq: int) -> None:
        _write_durably(self._watermark_file, str(seq))

    def sync(self, source: ChangeSource, progress: SyncProgress | None = None) -> SyncReport:
        """Apply every store change after the watermark, committing in chunks; index everything again when the
        change log no longer holds all this index missed, or when its terms were made by another analysis."""
        report = SyncReport()
        current = fingerprint()
        try:
            made_by = self._fingerprint_file.read_text().strip()
        except FileNotFoundError:
            made_by = None
        if made_by != current:
            if made_by is not None and (self.watermark() or self.count()):
                log.info("%s: indexing every passage again: its terms were made by another analysis", self.path)
                self._rebuild(source, report, progress)
            _write_durably(self._fingerprint_file, current)  # after the rebuild: a crash before repeats it
        if self.watermark() < source.pruned_upto():
            self._rebuild(source, report, progress)
        changes = source.changes_after(self.watermark())
        if not changes:
            return report
        fresh = self.watermark() == 0 and self.count() == 0
        for start in range(0, len(changes), _CHUNK_DOCUMENTS):
            part = changes[start : start + _CHUNK_DOCUMENTS]
            doc_ids = list(dict.fromkeys(doc_id for _, doc_id, _ in part))
            writer = self.index.writer(heap_size=256_000_000, num_threads=1)
            if not fresh:
                for doc_id in doc_ids:
                    writer.delete_documents_by_term("doc", doc_id)
            rows = source.index_rows(doc_ids)
            self._add(writer, rows)
            writer.commit()
            writer.wait_merging_threads()
            self._set_watermark(part[-1][0])
            report.documents += len(doc_ids)
            report.added += len(rows)
            if progress:
                progress(start + len(part), len(changes))
        self.index.reload()
        return report

    def _rebuild(self, source: ChangeSource, report: SyncReport, progress: SyncProgress | None = None) -> None:
        """Index every stored passage afresh."""
        writer = self.index.writer(heap_size=256_000_000, num_threads=1)
        writer.delete_all_documents()
        rows = source.index_rows(None)
        for start in range(0, len(rows), _REBUILD_ROWS):
            self._add(writer, rows[start : start + _REBUILD_ROWS])
            if progress:
                progress(min(start + _REBUILD_ROWS, len(rows)), len(rows))
        writer.commit()
        writer.wait_merging_threads()
        self._set_watermark(source.pruned_upto())  # only now: a crash before this repeats the rebuild
        self.index.reload()
        report.added += len(rows)

    def _add(self, writer: tantivy.IndexWriter, rows: Iterable[IndexRow]) -> None:
        for row in rows:
            doc = tantivy.Document()
            doc.add_integer("seq", row.seq)
            doc.add_text("doc", row.document_id)
            doc.add_text("text", " ".join(analyze(row.text)))
            doc.add_text("context", " ".join(analyze(row.context)))
            doc.add_text("etype", row.evidence_type.value)
            doc.add_text("source", row.source.lower())
            doc.add_integer("year", row.year or 0)
            writer.add_document(doc)

    # -- reading -------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 100, filters: Filters | None = None) -> list[Candidate]:
        """BM25 over passage text plus down-weighted title/section/topics, with expansions."""
        terms = self.analyzer.terms(query)
        if not terms:
            return []
        should = []
        for t in terms:
            should.append((tantivy.Occur.Should, self._term(t.term, "text", t.weight)))
            should.append((tantivy.Occur.Should, self._term(t.term, "context", t.weight * CONTEXT_BOOST)))
        query_obj = tantivy.Query.boolean_query(should)
        restrictions = self._filters(filters)
        if restrictions:
            query_obj = tantivy.Query.boolean_query([(tantivy.Occur.Must, query_obj), *restrictions])
        searcher = self.index.searcher()
        hits = searcher.search(query_obj, limit=limit, count=False).hits
        if not hits:
            return []
        seqs = searcher.fast_field_values("seq", [addr for _, addr in hits])
        return [Candidate(int(seq or 0), float(score)) for (score, _), seq in zip(hits, seqs, strict=True)]

    def known(self, terms: Iterable[str]) -> frozenset[str]:
        """The analysed terms that occur in at least one indexed passage (its text or its document's title/topics)."""
        searcher = self.index.searcher()
        return frozenset(t for t in terms if searcher.doc_freq("text", t) or searcher.doc_freq("context", t))

    def named(self, terms: Iterable[str]) -> frozenset[str]:
        """The analysed terms that some document's title, section headings or topics use."""
        searcher = self.index.searcher()
        return frozenset(t for t in terms if searcher.doc_freq("context", t))

    def _term(self, term: str, field: str, weight: float) -> tantivy.Query:
        q = tantivy.Query.term_query(self.schema, field, term, index_option="freq")
        return q if weight == 1.0 else tantivy.Query.boost_query(q, weight)

    def _filters(self, filters: Filters | None) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        if filters is None or filters.empty:
            return []
        out = []
        for field, values in (
            ("etype", [t.value for t in filters.evidence_types]),
            ("source", [s.lower() for s in filters.sources]),
            ("doc", list(filters.document_ids)),
        ):
            if values:
                out.append((tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, field, values)))
        if filters.year_min is not None or filters.year_max is not None:
            out.append(
                (
                    tantivy.Occur.Must,
                    tantivy.Query.range_query(
                        self.schema,
                        "year",
                        tantivy.FieldType.Integer,
                        filters.year_min if filters.year_min is not None else 1,
                        filters.year_max if filters.year_max is not None else 9999,
                    ),
                )
            )
        return out

    def count(self) -> int:
        """Passages indexed."""
        return int(self.index.searcher().num_docs)

    def seqs(self) -> list[int]:
        """Every indexed passage's sequence number, ascending, repeats kept (for integrity checks)."""
        searcher = self.index.searcher()
        hits = searcher.search(tantivy.Query.all_query(), limit=max(searcher.num_docs, 1)).hits
        return sorted(int(searcher.doc(address)["seq"][0]) for _, address in hits)

    def stats(self) -> dict[str, object]:
        """Passages, segments and bytes on disk."""
        size = sum(p.stat().st_size for p in self.path.iterdir() if p.is_file())
        searcher = self.index.searcher()
        return {"passages": searcher.num_docs, "segments": searcher.num_segments, "bytes": size}

    def close(self) -> None:
        """Nothing to release: tantivy holds no writer between syncs."""
