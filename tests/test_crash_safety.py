"""SIGKILL at random points: ingestion leaves a consistent store and indexes and a rerun completes it exactly; a
server killed while approvals are in flight keeps every approval it acknowledged.

Ingestion runs in children forked from one driver process that has imported bedside already (a fresh interpreter
per run would spend most of the time importing). The driver shrinks the write batches so that a small corpus takes
many store transactions and index commits, and a kill can land between or inside any of them.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from bedside import Bedside
from bedside.editorial.desk import SqlArticleService
from bedside.editorial.interface import ReviewStatus, Role
from bedside.ops.integrity import check_lexical, check_store, check_vectors, sqlite_integrity

pytestmark = pytest.mark.slow

KILL_RUNS = 50
DOCUMENTS = 300
DRIVER = r"""
import os, sys
import bedside.index.lexical, bedside.index.vectors, bedside.knowledge
from bedside import Bedside
bedside.knowledge.BATCH_DOCUMENTS = 30
bedside.index.lexical._CHUNK_DOCUMENTS = 75
bedside.index.vectors._CHUNK_DOCUMENTS = 75
for line in sys.stdin:
    data, corpus = line.split()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            with Bedside(data_dir=data, starter_kb=False) as b:
                code = 0 if b.ingest([corpus]).ok else 1
        finally:
            os._exit(code)
    print(pid, flush=True)
    print(os.waitpid(pid, 0)[1], flush=True)
"""


def _corpus(path: Path, docs: int = DOCUMENTS) -> int:
    rng = random.Random(7)
    words = "iron ferritin anaemia cobalamin folate dose mg daily oral intravenous weeks adults".split()
    with path.open("w", encoding="utf-8") as out:
        for i in range(docs):
            sentences = [" ".join(rng.choices(words, k=12)).capitalize() + "." for _ in range(rng.randint(2, 9))]
            out.write(json.dumps({"id": f"d-{i}", "title": f"Doc {i}", "text": " ".join(sentences)}) + "\n")
    return docs


class Driver:
    """The forking ingestion driver: `start` forks one ingest child, `wait` reaps it."""

    def __init__(self) -> None:
        env = dict(os.environ, BEDSIDE_EMBEDDER="hashing", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def start(self, data: Path, corpus: Path) -> int:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{data} {corpus}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def wait(self) -> int:
        """The child's wait status: 0 when it finished, signal.SIGKILL when it was killed."""
        assert self.proc.stdout
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()


def _uncommitted_frames(wal: Path) -> int:
    """Frames of the current WAL generation written after its last commit frame: a transaction cut off mid-commit."""
    if not wal.exists() or wal.stat().st_size < 32:
        return 0
    raw = wal.read_bytes()
    page_size, salts = struct.unpack(">I", raw[8:12])[0], raw[16:24]
    frames, last_commit, offset = 0, 0, 32
    while offset + 24 + page_size <= len(raw) and raw[offset + 8 : offset + 16] == salts:
        frames += 1
        if struct.unpack(">I", raw[offset + 4 : offset + 8])[0]:
            last_commit = frames
        offset += 24 + page_size
    return frames - last_commit


def _state(data: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Documents (id, hash, passage count) and passages (id, document, span, text), in a stable order."""
    with closing(sqlite3.connect(data / "knowledge.sqlite")) as db:
        docs = db.execute("SELECT id, content_hash, passage_count FROM documents ORDER BY id").fetchall()
        passages = db.execute('SELECT id, document_id, start, "end", text FROM passages ORDER BY id').fetchall()
    return docs, passages


def _watermarks(data: Path) -> tuple[int, int, int]:
    """(store's last change, lexical watermark, vector watermark) as left on disk, before anything reopens them."""
    row = None
    if (data / "knowledge.sqlite").exists():
        with closing(sqlite3.connect(data / "knowledge.sqlite")) as db:
            try:
                row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
            except sqlite3.OperationalError:  # killed while the schema was being created
                row = None
    mark = data / "lexical" / "watermark"
    lexical = int(mark.read_text() or 0) if mark.exists() else 0
    vectors = 0
    if (data / "vectors" / "vectors.sqlite").exists():
        with closing(sqlite3.connect(data / "vectors" / "vectors.sqlite")) as db:
            try:
                found = db.execute("SELECT value FROM meta WHERE key = 'watermark'").fetchone()
            except sqlite3.OperationalError:  # killed while the index was being created: no tables yet
                found = None
            vectors = int(found[0]) if found else 0
    return (int(row[0]) if row else 0), lexical, vectors


def _check_after_kill(data: Path) -> None:
    """SQLite sound, no index ahead of the store, and after reopening (replay) store and indexes agree exactly."""
    for name in ("knowledge.sqlite", "vectors/vectors.sqlite"):
        if (data / name).exists():
            assert sqlite_integrity(data / name) == []
    last, lexical, vectors = _watermarks(data)
    assert lexical <= last and vectors <= last, "an index is ahead of the store it follows"
    with Bedside(data_dir=data, starter_kb=False) as b:
        for finding in (check_store(b), check_lexical(b), check_vectors(b)):
            assert finding.ok, finding


def test_sigkill_mid_ingest_fifty_times_then_resume(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    total = _corpus(corpus)
    driver = Driver()
    try:
        began = time.monotonic()
        driver.start(tmp_path / "reference", corpus)
        assert driver.wait() == 0
        duration = time.monotonic() - began
        reference = _state(tmp_path / "reference")
        assert len(reference[0]) == total
        outcomes = _kill_runs(driver, tmp_path, corpus, duration, reference)
    finally:
        driver.close()
    print(f"\n{KILL_RUNS} kill runs over a {duration:.2f} s ingest: {dict(outcomes)}")
    # The consistency checks ran after every kill; these only make sure the kills did land inside the ingest.
    assert outcomes["killed"] >= KILL_RUNS // 2, outcomes
    assert outcomes["partial store"] + outcomes["empty store"] >= 1 and outcomes["indexes behind"] >= 5, outcomes


def _kill_runs(driver: Driver, tmp_path: Path, corpus: Path, duration: float, reference: object) -> Counter[str]:
    """Each run: a fresh data directory, a kill at a random moment, the checks, then the same ingest to the end.

    Kill times are `duration * u**2` for uniform u: they span the whole ingest but fall more often in its short
    first part, where the store's transactions are (most of the time goes to the index commits after them).
    """
    rng = random.Random(11)
    outcomes: Counter[str] = Counter()
    for run in range(KILL_RUNS):
        data = tmp_path / f"data-{run}"
        pid = driver.start(data, corpus)
        time.sleep(duration * rng.random() ** 2)
        with suppress(ProcessLookupError):  # it may have finished already
            os.kill(pid, signal.SIGKILL)
        status = driver.wait()
        outcomes["killed" if status == signal.SIGKILL else "finished first"] += 1
        outcomes.update(_classify(data))
        _check_after_kill(data)
        driver.start(data, corpus)  # resume: the same ingest again, uninterrupted
        assert driver.wait() == 0
        _check_after_kill(data)
        assert _state(data) == reference
        shutil.rmtree(data)
    return outcomes


def _classify(data: Path) -> list[str]:
    if not (data / "knowledge.sqlite").exists():
        return ["nothing written"]
    found = []
    if _uncommitted_frames(data / "knowledge.sqlite-wal") or _uncommitted_frames(data / "vectors/vectors.sqlite-wal"):
        found.append("mid-commit")
    try:
        docs = len(_state(data)[0])
    except sqlite3.OperationalError:  # killed while the schema was being created
        docs = 0
    last, lexical, vectors = _watermarks(data)
    found.append("partial store" if 0 < docs < DOCUMENTS else "empty store" if docs == 0 else "full store")
    if min(lexical, vectors) < last:
        found.append("indexes behind")
    return found


# -- a server killed while approving ---------------------------------------------------------------------------

ROUNDS = 3
ARTICLES_PER_ROUND = 24
REVIEWER = "rita@example.org"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _server(data: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """`bedside serve` on its own data directory (SQLite article database), ready to answer."""
    env = dict(os.environ, BEDSIDE_DATA_DIR=str(data), BEDSIDE_STARTER_KB="false", BEDSIDE_EMBEDDER="hashing")
    env.pop("BEDSIDE_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bedside", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _claimed_articles(data: Path) -> tuple[list[list[str]], str]:
    """ROUNDS lists of articles claimed by the reviewer, and the reviewer's API token."""
    with SqlArticleService(f"sqlite:///{data / 'bedside.db'}") as service:
        service.add_user(REVIEWER, Role.REVIEWER, "rita-password-long")
        rita = service.get_user(REVIEWER)
        rounds: list[list[str]] = []
        for r in range(ROUNDS):
            slugs = []
            for i in range(ARTICLES_PER_ROUND):
                question = f"How is deficiency number {r}-{i} treated?"
                slug = service.article_for(question, lambda q=question: {"question": q, "title": q}, {}).slug
                service.review(slug, "claim", rita)
                slugs.append(slug)
            rounds.append(slugs)
        return rounds, service.issue_token(REVIEWER)


def _approve_until_killed(
    port: int, token: str, slugs: list[str], proc: subprocess.Popen[bytes], after: int, delay: float
) -> list[str]:
    """Approve from four clients at once; SIGKILL the server `delay` s after the `after`-th acknowledgement (so the
    kill lands while approvals are in flight, however fast the machine); the slugs whose approval got a 2xx."""
    acknowledged: list[str] = []
    lock = threading.Lock()
    reached = threading.Event()

    def client(part: list[str]) -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=10, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            for slug in part:
                try:
                    r = http.post(f"/api/articles/{slug}/review", json={"action": "approve", "version": 1})
                except httpx.TransportError:
                    return
                if r.is_success:
                    with lock:
                        acknowledged.append(slug)
                        if len(acknowledged) >= after:
                            reached.set()

    threads = [threading.Thread(target=client, args=(slugs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    assert reached.wait(timeout=60), "the server acknowledged too few approvals"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    for t in threads:
        t.join(timeout=30)
    return acknowledged


def test_killing_the_server_mid_approval_loses_no_acknowledged_approval(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rounds, token = _claimed_articles(data)
    rng = random.Random(5)
    acknowledged: list[str] = []
    for slugs in rounds:
        port = _free_port()
        with _server(data, port) as proc:
            after, delay = rng.randint(1, ARTICLES_PER_ROUND // 2), rng.uniform(0.0, 0.05)
            acknowledged += _approve_until_killed(port, token, slugs, proc, after, delay)
    port = _free_port()
    with _server(data, port):  # restarted: what did it keep?
        statuses = {s: httpx.get(f"http://127.0.0.1:{port}/api/articles/{s}").json()["status"] for s in acknowledged}
    total = ROUNDS * ARTICLES_PER_ROUND
    print(f"\napprovals acknowledged before the kills: {len(acknowledged)} of {total}")
    assert 0 < len(acknowledged) < total, "every kill landed before or after all the approvals; adjust the timing"
    assert set(statuses.values()) == {ReviewStatus.APPROVED.value}
    with SqlArticleService(f"sqlite:///{data / 'bedside.db'}") as service:
        for slug in acknowledged:
            assert [e.action for e in service.history(slug)][-1] == "approve", slug
        check = service.verify_audit()
        approved = len(service.list(ReviewStatus.APPROVED, limit=total))
    assert check.ok, check.problems
    print(
        f"approved after restart: {approved} (acknowledged {len(acknowledged)}); audit {check.records} records intact"
    )
    assert approved >= len(acknowledged)
