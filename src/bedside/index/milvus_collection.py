"""What both Milvus collections share: the client, terms as opaque tokens, filter expressions, and the collection
base that follows the knowledge store's change log (sync, rebuild, counts, watermarks). See `bedside.index.milvus`
for the backend as a whole: consistency, watermarks and what Milvus does not decide.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bedside.errors import BackendUnavailable, InvalidInput
from bedside.index.protocols import ChangeSource, Filters, SyncProgress, SyncReport
from bedside.model import EvidenceType, IndexRow
from bedside.text.analysis import analyze

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pymilvus import MilvusClient

log = logging.getLogger(__name__)

MILVUS_HINT = "install with: pip install 'bedside[milvus]'"
WEIGHT_STEPS = 10  # a query term of weight w is repeated round(w * WEIGHT_STEPS) times (at least once)
TITLE_TERMS = 64  # title terms kept per passage for title focus; longer titles are left to the store
_CHUNK_DOCUMENTS = 500
_INSERT_ROWS = 2_000
MAX_TEXT = 65_535
EVIDENCE_TYPES = {t.value: t for t in EvidenceType}
CONSISTENCY_LEVELS = ("Strong", "Bounded", "Session", "Eventually")


class WatermarkSource(ChangeSource, Protocol):
    """The knowledge store as a shared index needs it: the change log, and watermarks kept per index name."""

    def watermark(self, index: str) -> int: ...
    def set_watermark(self, index: str, seq: int) -> None: ...
    def stream_index_rows(self, batch: int = 20_000) -> Iterator[list[IndexRow]]: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...


def connect(uri: str) -> MilvusClient:
    """A client for a Milvus server URL or a Milvus Lite file path."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise BackendUnavailable(f"Milvus support is not installed; {MILVUS_HINT}") from None
    try:
        return MilvusClient(uri)
    except Exception as exc:  # noqa: BLE001 - the client raises several kinds; each means the same to a user
        raise BackendUnavailable(f"cannot reach Milvus at {uri}: {exc}") from None


def term_token(term: str) -> str:
    """One analysed term as a token Milvus's standard tokenizer keeps whole."""
    return "t" + hashlib.blake2b(term.encode("utf-8"), digest_size=8).hexdigest()


def analysed_tokens(text: str) -> str:
    """A text analysed by bedside, as Milvus stores it (cut to a field's length limit at a token boundary)."""
    tokens = " ".join(term_token(t) for t in analyze(text))
    return tokens if len(tokens) <= MAX_TEXT else tokens[: tokens.rfind(" ", 0, MAX_TEXT)]


def quote(value: str) -> str:
    """A string literal for a Milvus filter expression."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def filter_expression(filters: Filters | None, seqs: Sequence[int] | None = None) -> str:
    """A Milvus boolean expression for bedside's filters (empty: no filter); years 0 mean unknown, as elsewhere."""
    parts = []
    if filters is not None:
        if filters.evidence_types:
            parts.append(f"etype in [{', '.join(quote(t.value) for t in sorted(filters.evidence_types))}]")
        if filters.year_min is not None:
            parts.append(f"year >= {int(filters.year_min)} and year > 0")
        if filters.year_max is not None:
            parts.append(f"year <= {int(filters.year_max)} and year > 0")
        if filters.sources:
            parts.append(f"source in [{', '.join(quote(s.lower()) for s in sorted(filters.sources))}]")
        if filters.document_ids:
            parts.append(f"doc in [{', '.join(quote(d) for d in sorted(filters.document_ids))}]")
    if seqs is not None:
        parts.append(f"seq in [{', '.join(str(int(s)) for s in seqs)}]")
    return " and ".join(f"({p})" for p in parts)


class MilvusCollection(ABC):
    """A collection that follows the knowledge store's change log."""

    kind = ""

    def __init__(
        self,
        uri: str,
        collection: str,
        store: WatermarkSource,
        client: MilvusClient | None = None,
        consistency: str = "Strong",
    ) -> None:
        if consistency not in CONSISTENCY_LEVELS:
            raise InvalidInput(
                f"unknown Milvus consistency level {consistency!r}; one of {', '.join(CONSISTENCY_LEVELS)}"
            )
        self.consistency = consistency
        self.uri = uri
        self.collection = f"{collection}_{self.kind}"
        self.name = f"milvus:{self.collection}"
        self.store = store
        self._owns_client = client is None
        self._closed = False
        self.client = client if client is not None else connect(uri)
        if not self.client.has_collection(self.collection):
            self._create()
        else:  # a collection another process (or an earlier run) made is searchable only once loaded
            self.client.load_collection(self.collection)

    @abstractmethod
    def _create(self) -> None:
        """Create this kind's collection (schema, index) and load it."""

    @abstractmethod
    def _entities(self, rows: list[IndexRow]) -> list[dict[str, Any]]:
        """The rows as this kind's entities (scalars plus its vector or analysed text)."""

    def _scalars(self, row: IndexRow) -> dict[str, Any]:
        return {
            "seq": row.seq,
            "doc": row.document_id,
            "etype": row.evidence_type.value,
            "year": row.year or 0,
            "source": row.source.lower()[:512],
        }

    def _schema(self) -> Any:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False)
        schema.add_field("seq", DataType.INT64, is_primary=True)
        schema.add_field("doc", DataType.VARCHAR, max_length=1024)
        schema.add_field("etype", DataType.VARCHAR, max_length=64)
        schema.add_field("year", DataType.INT32)
        schema.add_field("source", DataType.VARCHAR, max_length=512)
        return schema

    def watermark(self) -> int:
        """The last store change applied to the collection, as recorded in the store."""
        return self.store.watermark(self.name)

    def sync(self, source: ChangeSource, progress: SyncProgress | None = None) -> SyncReport:
        """Apply every store change after the watermark; rebuild when the log no longer holds them all."""
        report = SyncReport()
        if self.watermark() < self.store.pruned_upto():
            self._rebuild(report, progress)
        changes = self.store.changes_after(self.watermark())
        for start in range(0, len(changes), _CHUNK_DOCUMENTS):
            part = changes[start : start + _CHUNK_DOCUMENTS]
            doc_ids = list(dict.fromkeys(d for _, d, _ in part))
            rows = self.store.index_rows(doc_ids)
            self._put(rows, doc_ids, report)
            self.store.set_watermark(self.name, part[-1][0])
            report.documents += len(doc_ids)
            if progress:
                progress(start + len(part), len(changes))
        return report

    def _put(self, rows: list[IndexRow], doc_ids: list[str], report: SyncReport) -> None:
        """Upsert these documents' passages, then delete those of their passages that are gone."""
        for i in range(0, len(rows), _INSERT_ROWS):
            self.client.upsert(self.collection, self._entities(rows[i : i + _INSERT_ROWS]))
        report.added += len(rows)
        keep = [r.seq for r in rows]
        for i in range(0, len(doc_ids), _CHUNK_DOCUMENTS):
            docs = filter_expression(Filters(document_ids=frozenset(doc_ids[i : i + _CHUNK_DOCUMENTS])))
            self.client.delete(self.collection, filter=f"{docs} and not (seq in [{', '.join(map(str, keep))}])")

    def _rebuild(self, report: SyncReport, progress: SyncProgress | None) -> None:
        """Index every stored passage afresh; the watermark moves only at the end, so a crash repeats it."""
        log.info("%s: indexing every passage again", self.collection)
        self.client.drop_collection(self.collection)
        self._create()
        done = 0
        for part in self.store.stream_index_rows():
            for i in range(0, len(part), _INSERT_ROWS):
                self.client.insert(self.collection, self._entities(part[i : i + _INSERT_ROWS]))
            done += len(part)
            report.added += len(part)
            if progress:
                progress(done, done)
        self.store.set_watermark(self.name, self.store.pruned_upto())

    def count(self) -> int:
        """Passages in the collection."""
        rows = self.client.query(self.collection, filter="", output_fields=["count(*)"], consistency_level="Strong")
        return int(rows[0]["count(*)"])

    def seqs(self) -> list[int]:
        """Every indexed passage's sequence number, ascending (for integrity checks)."""
        found: list[int] = []
        iterator = self.client.query_iterator(
            self.collection, batch_size=4096, filter="", output_fields=["seq"], consistency_level="Strong"
        )
        try:
            while batch := iterator.next():
                found.extend(int(r["seq"]) for r in batch)
        finally:
            iterator.close()
        return sorted(found)

    def stats(self) -> dict[str, object]:
        """Passages and where they are."""
        return {"passages": self.count(), "collection": self.collection, "uri": self.uri}

    def close(self) -> None:
        """Close the client this index opened (again: nothing)."""
        if self._owns_client and not self._closed:
            self.client.close()
        self._closed = True
