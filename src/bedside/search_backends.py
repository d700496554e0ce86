"""Opening the search indexes and the embedder a data directory's settings name (`Bedside` calls these)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bedside.config import Settings
from bedside.errors import BackendUnavailable, InvalidInput, UpstreamError
from bedside.index.embedder import load_embedder
from bedside.index.lexical import LexicalIndex
from bedside.index.milvus import MilvusDenseIndex, MilvusLexicalIndex
from bedside.index.protocols import Embedder
from bedside.index.vectors import VectorIndex
from bedside.store import KnowledgeStore

__all__ = ["Indexes", "open_embedder", "open_indexes"]

Indexes = tuple[LexicalIndex | MilvusLexicalIndex, VectorIndex | MilvusDenseIndex | None, Any]


def open_indexes(
    settings: Settings, store: KnowledgeStore, embedder: Embedder | None, seed: Mapping[str, np.ndarray] | None
) -> Indexes:
    """The lexical and dense indexes of the configured search backend (dense None: lexical search only), and the
    Milvus client both Milvus indexes share (None for the embedded backend)."""
    if settings.search_backend == "milvus":
        from bedside.index.milvus import connect

        uri = settings.resolved_milvus_uri
        client = connect(uri)
        level = settings.milvus_consistency
        lexical = MilvusLexicalIndex(uri, settings.milvus_collection, store, client, consistency=level)
        dense = None
        if embedder is not None:
            dense = MilvusDenseIndex(uri, settings.milvus_collection, store, embedder, client, seed, consistency=level)
        return lexical, dense, client
    data_dir = Path(settings.data_dir)
    vectors = VectorIndex(data_dir / "vectors", embedder, seed=seed) if embedder is not None else None
    return LexicalIndex(data_dir / "lexical"), vectors, None


def open_embedder(settings: Settings, store: KnowledgeStore, notice: Callable[[str], None]) -> Embedder | None:
    """The configured embedder; None (with a notice) when it is unavailable, so search falls back to lexical."""
    try:
        embedder: Embedder | None = (
            _endpoint_embedder(settings, store) if settings.embedder == "endpoint" else load_embedder(settings.embedder)
        )
    except (BackendUnavailable, UpstreamError) as exc:
        notice(f"dense retrieval unavailable ({exc}); using lexical search only")
        return None
    if embedder is not None and hasattr(embedder, "cache_dir"):
        embedder.cache_dir = Path(settings.data_dir) / "vectors"
    return embedder


def _endpoint_embedder(s: Settings, store: KnowledgeStore) -> Embedder:
    """The embeddings endpoint the settings name, checked against the probe vector this knowledge base recorded
    when it first used that model (a different model under the same name is refused)."""
    from bedside.index.endpoint import EndpointEmbedder, check_probe

    if not s.embedder_base_url or not s.embedder_model:
        raise InvalidInput("BEDSIDE_EMBEDDER=endpoint needs BEDSIDE_EMBEDDER_BASE_URL and BEDSIDE_EMBEDDER_MODEL")
    embedder = EndpointEmbedder(
        s.embedder_base_url,
        s.embedder_model,
        s.embedder_api_key,
        timeout=s.embedder_timeout,
        batch_size=s.embedder_batch_size,
        retries=s.embedder_retries,
        query_instruction=s.embedder_query_instruction,
    )
    key = f"embedder_probe:{embedder.name}"
    try:
        probe = check_probe(embedder, store.get_meta(key))
    except InvalidInput:
        embedder.close()
        raise
    store.set_meta(key, probe)
    return embedder
