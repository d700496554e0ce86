"""A proximity graph (HNSW, built with faiss) over the snapshot matrix, for knowledge bases past EXACT_LIMIT vectors.

On real bge-small vectors (44,905 MedQuAD and BioASQ passages, 300 real questions), the graph found the exact top 10
with recall 0.97 in about 1 ms per query, where inverted-file lists (bench/ivf.py, which bedside used before) had
to scan about a sixth of the matrix for 0.96. Its labels count the vectors in the order they were added (the
snapshot keeps what passage each label holds; `snapshot_build.py` writes them), so a later snapshot extends the
graph instead of building it again.

The graph keeps its vectors as 8-bit codes (one byte per dimension, over each dimension's range in a sample of the
rows, widened by RANGE_MARGIN for rows added later), not as float32: 656 bytes per 384-dimensional vector instead of
1,808, held in memory by every searching process. On those same real vectors the inner products it returns differ
from the exact ones by 0.0003 on average (0.006 at most), and with SEARCH_DEPTH raised from 256 to 400 it finds the
same share of the exact top 10 (0.980) as the float32 graph did, in 0.64 ms per query instead of 0.73. Graphs saved
with float32 vectors by an older bedside still load; the next change builds them afresh (`snapshot_build.py`).
Without faiss installed, bedside scans the whole matrix instead.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

log = logging.getLogger(__name__)

LINKS = 32  # neighbours per node (M)
BUILD_DEPTH = 80  # candidates kept while linking a new node (efConstruction)
SEARCH_DEPTH = 400  # candidates kept while searching (efSearch); at least the number of results asked for
_ADD_CHUNK = 50_000
TRAIN_ROWS = 20_000  # rows sampled (evenly spread) to fix each dimension's range for the 8-bit codes
RANGE_MARGIN = 0.05  # share of each range added on both sides: rows added later rarely fall outside it


def _faiss() -> Any:
    import faiss

    return faiss


def available() -> bool:
    """Whether faiss can be imported here."""
    try:
        _faiss()
    except ImportError:
        return False
    return True


class GraphIndex:
    """A saved HNSW graph; its labels number the vectors in the order they were added."""

    def __init__(self, index: Any) -> None:
        self._index = index

    @staticmethod
    def build(vecs: np.ndarray | Path, path: Path) -> GraphIndex:
        """Link every row of `vecs` (unit vectors, or a .npy file of them) into a graph, save it at `path` and return
        it. A file is read a chunk at a time, so only the graph's own copy of the vectors is held in memory."""
        faiss = _faiss()
        n, dim = _shape(vecs)
        index = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, LINKS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = BUILD_DEPTH
        faiss.downcast_index(index.storage).sq.rangestat_arg = RANGE_MARGIN
        if n:
            index.train(_sample(vecs, TRAIN_ROWS))
        log.info("linking %d vectors into the search graph", n)
        return GraphIndex(_add_and_save(index, vecs, path))

    @staticmethod
    def extend(old: Path, vecs: np.ndarray | None, path: Path) -> GraphIndex | None:
        """Save at `path`, and return, the graph at `old` with the rows of `vecs` linked in after its own (labels
        continue from its size). Cheap next to a rebuild: a knowledge base of 1M passages relinks only what changed.
        None, saving nothing, when the graph at `old` holds float32 vectors (saved by an older bedside): the caller
        builds it afresh, once, with 8-bit codes."""
        faiss = _faiss()
        index = faiss.read_index(str(old))
        if not isinstance(index, faiss.IndexHNSWSQ):
            log.info("%s holds float32 vectors; building the search graph afresh with 8-bit codes", old)
            return None
        return GraphIndex(_add_and_save(index, vecs, path))

    @classmethod
    def load(cls, path: Path) -> GraphIndex:
        """Read a saved graph into memory. Memory-mapping it instead (faiss can) saved memory, but once the system
        reclaimed its idle pages, searches waited on the disk: a p50 of 45 ms instead of 1 ms at 1M passages."""
        return cls(_faiss().read_index(str(path)))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, q: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Labels and inner products (from the graph's 8-bit codes) of the best `limit` vectors found, best first."""
        faiss = _faiss()
        params = faiss.SearchParametersHNSW(efSearch=max(SEARCH_DEPTH, limit))
        scores, rows = self._index.search(np.asarray(q, dtype=np.float32)[None, :], limit, params=params)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]


def _add_and_save(index: Any, vecs: np.ndarray | Path | None, path: Path) -> Any:
    """Link `vecs` into `index` a chunk at a time, then write it to `path` (whole, then renamed); return `index`."""
    faiss = _faiss()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    if vecs is not None:
        for chunk in _chunks(vecs, _ADD_CHUNK):
            index.add(chunk)
    tmp = path.with_name(path.name + ".tmp")
    faiss.write_index(index, str(tmp))
    tmp.replace(path)
    return index


def _sample(vecs: np.ndarray | Path, k: int) -> np.ndarray:
    """At most `k` rows spread evenly over `vecs`; a .npy file is read row by row, not mapped."""
    n, dim = _shape(vecs)
    rows = np.unique(np.linspace(0, n - 1, min(n, k)).astype(np.int64))
    if not isinstance(vecs, Path):
        return np.ascontiguousarray(vecs[rows], dtype=np.float32)
    out = np.empty((len(rows), dim), dtype=np.float32)
    with vecs.open("rb") as f:
        shape, fortran, dtype = _header(f)
        if fortran or dtype != np.float32 or len(shape) != 2:
            raise ValueError(f"{vecs}: expected a C-ordered float32 matrix, found {dtype} {shape}")
        start = f.tell()
        for i, row in enumerate(rows.tolist()):
            f.seek(start + row * dim * 4)
            block = np.fromfile(f, dtype=np.float32, count=dim)
            if len(block) != dim:
                raise ValueError(f"{vecs}: truncated at row {row} of {n}")
            out[i] = block
    return out


def _shape(vecs: np.ndarray | Path) -> tuple[int, int]:
    if isinstance(vecs, Path):
        with vecs.open("rb") as f:
            shape = _header(f)[0]
        return int(shape[0]), int(shape[1])
    return int(vecs.shape[0]), int(vecs.shape[1])


def _header(f: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype[Any]]:
    """(shape, fortran order, dtype) of a .npy file, leaving `f` at the first byte of data."""
    major, _ = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(f)
    return tuple(shape), bool(fortran), dtype


def _chunks(vecs: np.ndarray | Path, size: int) -> Iterator[np.ndarray]:
    """Contiguous float32 blocks of rows; a .npy file is read with plain reads, not mapped, so the pages read
    do not stay in this process's memory."""
    if not isinstance(vecs, Path):
        for start in range(0, len(vecs), size):
            yield np.ascontiguousarray(vecs[start : start + size], dtype=np.float32)
        return
    with vecs.open("rb") as f:
        shape, fortran, dtype = _header(f)
        if fortran or dtype != np.float32 or len(shape) != 2:
            raise ValueError(f"{vecs}: expected a C-ordered float32 matrix, found {dtype} {shape}")
        n, dim = shape
        for start in range(0, n, size):
            rows = min(size, n - start)
            block = np.fromfile(f, dtype=np.float32, count=rows * dim)
            if len(block) != rows * dim:
                raise ValueError(f"{vecs}: truncated at row {start + len(block) // dim} of {n}")
            yield block.reshape(rows, dim)
