"""The scale-out half of bench/scale.py: the same corpus and vectors on a PostgreSQL knowledge store with Milvus
search (Milvus Lite here), beside the embedded SQLite + tantivy + vector file run.

What is measured, per size: ingest (store writes into PostgreSQL with the indexes detached, then the Milvus lexical
and dense collections synced from the store's change log, each timed), lexical / dense / hybrid search latency on the
first --scale-out-queries benchmark queries (the embedded figures are recomputed on the same queries), and memory:
the bench process's peak RSS (Milvus Lite runs inside it, as threads) plus the PostgreSQL server's peak memory,
sampled every 0.5 s as the sum of its processes' proportional set sizes (PSS: shared buffers counted once).

The PostgreSQL server is a throwaway cluster started from the Debian server binaries with their default durability
settings (fsync on, synchronous_commit on), unless --postgres-url names one. Milvus Lite is pure Python: its figures
say whether the backend works at this size and what a single-host Lite deployment costs, not what a Milvus server
or cluster would do.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def postgres_cluster() -> Iterator[tuple[str, int]]:
    """(URL, postmaster pid) of a throwaway local PostgreSQL cluster, removed on exit."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise SystemExit("no PostgreSQL server binaries under /usr/lib/postgresql (or pass --postgres-url)")
    bindir = found[-1].parent
    root = Path(tempfile.mkdtemp(prefix="bedside-bench-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres system user
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()
    try:
        subprocess.run(
            [
                *run_as,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *run_as,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(root / "log"),
                "-w",
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        pid = int((data / "postmaster.pid").read_text().split()[0])
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", pid
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], check=False, capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(url: str, name: str) -> str:
    """`url` with its database replaced by a new, empty database `name` (dropped first if it exists)."""
    import sqlalchemy as sa

    base = sa.make_url(url)
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _tree(root: int) -> list[int]:
    """`root` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def pss_mb(root: int) -> float:
    """The proportional set size of `root` and its descendants, MB."""
    total = 0
    for pid in _tree(root):
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024


class PeakMemory:
    """The peak of `pss_mb(pid)` while the block runs, sampled every `every` seconds (None pid: nothing)."""

    def __init__(self, pid: int | None, every: float = 0.5) -> None:
        self.pid, self.every, self.peak = pid, every, 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        if self.pid is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        assert self.pid is not None
        while not self._stop.is_set():
            self.peak = max(self.peak, pss_mb(self.pid))
            self._stop.wait(self.every)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self.peak = max(self.peak, pss_mb(self.pid or 0))


# --- workers (run in fresh processes by bench/scale.py) ------------------------------------------------------------


def open_scale_out(url: str, data_dir: Path, embedder: Any) -> tuple[Any, Any]:
    """Bedside on PostgreSQL (knowledge store) and Milvus Lite (search) with embedder "none", then a Milvus dense
    collection over `embedder` attached, as the engine would attach a real model's."""
    from bedside import Bedside
    from bedside.config import load_settings
    from bedside.index.hybrid import HybridSearcher
    from bedside.index.milvus import MilvusDenseIndex

    settings = load_settings(
        data_dir=data_dir, starter_kb=False, embedder="none", database_url=url, search_backend="milvus"
    )
    b = Bedside(settings=settings)
    s = b.settings
    dense = MilvusDenseIndex(s.resolved_milvus_uri, s.milvus_collection, b.store, embedder, b._milvus)
    b.dense = dense
    b.kb.indexes = [b.lexical, dense]
    b.searcher = HybridSearcher(b.store, b.lexical, dense)
    return b, dense


def worker_build(corpus: Path, data_dir: Path, url: str, embedder: Any, peak_mb: Any, bars: Any) -> dict[str, Any]:
    """Store ingest into PostgreSQL with the indexes detached, then each Milvus collection synced, each timed."""
    if data_dir.exists():
        shutil.rmtree(data_dir)
    b, dense = open_scale_out(url, data_dir, embedder)
    indexes = b.kb.indexes
    b.kb.indexes = []
    start = time.perf_counter()
    report = b.ingest([corpus], progress=bars.ingest("PostgreSQL store: parse, chunk, write"))
    timings = {"store_s": time.perf_counter() - start}
    stage_peaks = {"store": peak_mb()}
    for index, key in ((b.lexical, "lexical_s"), (dense, "dense_s")):
        bar = bars.sync(f"{index.name} sync")
        start = time.perf_counter()
        index.sync(b.store, bar)
        timings[key] = time.perf_counter() - start
        stage_peaks[index.name] = peak_mb()
        bar.close()
    b.kb.indexes = indexes
    b.kb.sync_indexes()
    docs, passages = b.store.counts()
    collections = {"lexical": b.lexical.count(), "dense": dense.count()}
    b.close()
    return {
        **timings,
        "documents": docs,
        "passages": passages,
        "failed": len(report.failed),
        "collections": collections,
        "peak_mb": peak_mb(),
        "stage_peaks": stage_peaks,
    }


def worker_search(data_dir: Path, url: str, embedder: Any, queries: list[str], qvecs: Any, timed: Any) -> dict:
    """Lexical (top 100), dense (top 100, query vector given) and hybrid (limit 10) latency, per query, ms."""
    b, dense = open_scale_out(url, data_dir, embedder)
    lex = timed(lambda q: b.lexical.search(q, 100), queries, "Milvus lexical search")
    den = timed(lambda v: dense.search_vector(v, 100), list(qvecs), "Milvus dense search")
    hyb = timed(lambda q: b.searcher.search(q, 10), queries, "hybrid search on Milvus")
    answered = {  # queries with hits, untimed: a backend that answers fast with nothing would show here
        "lexical": sum(bool(b.lexical.search(q, 100)) for q in queries),
        "dense": sum(bool(dense.search_vector(v, 100)) for v in qvecs),
        "hybrid": sum(bool(b.searcher.search(q, 10)) for q in queries),
    }
    b.close()
    return {
        "per_query": {
            "lexical": [t * 1000 for t in lex],
            "dense": [t * 1000 for t in den],
            "hybrid": [t * 1000 for t in hyb],
        },
        "answered": answered,
    }
