"""Several processes, one knowledge base: an ingestion worker and two `bedside serve` processes sharing PostgreSQL
and a Milvus Lite server (gRPC on loopback). Documents ingested while the servers answer appear in both servers'
answers, removed ones disappear, and killing the ingestion worker mid-way loses and duplicates nothing.

Run with -s to see the figures it measures (documents, seconds until visible, kills, passages lost and duplicated).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

SRC = Path(__file__).resolve().parents[1] / "src"
VISIBLE_WITHIN_S = 60.0
BEDSIDE = [sys.executable, "-c", "import sys; from bedside.cli import main; sys.exit(main())"]  # the `bedside` command

_WORKER = """
import json, sys, time
from bedside import Bedside
b = Bedside()
while True:
    report = b.ingest([sys.argv[1]])
    print(json.dumps({"added": report.added, "updated": report.updated}), flush=True)
    time.sleep(0.2)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(check, what: str, timeout: float = 60.0) -> float:
    """Seconds until `check()` holds; fails the test after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen within {timeout:.0f}s")


@pytest.fixture
def milvus_uri(tmp_path: Path) -> Iterator[str]:
    """BEDSIDE_TEST_MILVUS_URI, or a Milvus Lite server of this test's own on a loopback port."""
    pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
    if os.environ.get("BEDSIDE_TEST_MILVUS_URI"):
        yield os.environ["BEDSIDE_TEST_MILVUS_URI"]
        return
    binary = shutil.which("milvus-lite") or str(Path(sys.executable).with_name("milvus-lite"))
    port = _free_port()
    server = subprocess.Popen(
        [binary, "server", "--data-dir", str(tmp_path / "milvus"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def listening() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        _wait_for(listening, "the Milvus Lite server listening")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _env(tmp_path: Path, name: str, postgres_url: str, milvus_uri: str, collection: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(SRC),
        "BEDSIDE_DATA_DIR": str(tmp_path / name),
        "BEDSIDE_DATABASE_URL": postgres_url,
        "BEDSIDE_SEARCH_BACKEND": "milvus",
        "BEDSIDE_MILVUS_URI": milvus_uri,
        "BEDSIDE_MILVUS_COLLECTION": collection,
        "BEDSIDE_EMBEDDER": "hashing",
        "BEDSIDE_STARTER_KB": "false",
    }


def _record(i: int) -> dict[str, object]:
    return {
        "id": f"doc-{i}",
        "title": f"Zorbaxamine{i} for quellosis type {i}",
        "type": "guideline",
        "text": f"Zorbaxamine{i} 40 mg once daily is the first-line treatment for quellosis type {i} in adults. "
        "Review the dose after four weeks.",
        "source": "Test Society",
        "year": 2024,
    }


def _cited(port: int, i: int) -> bool:
    """Whether the server's answer about document i's subject cites document i. Each question is new (a nonce word
    nothing in the corpus matches): the web keeps an article per question and serves it again unchanged."""
    nonce = "".join(random.choice("bcdfghjklmnpqrstvwxz") for _ in range(10))
    question = f"What is the first-line treatment for quellosis type {i} ({nonce})?"
    reply = httpx.post(f"http://127.0.0.1:{port}/api/ask", json={"question": question}, timeout=60)
    reply.raise_for_status()
    return f"doc-{i}" in {r["document_id"] for r in reply.json()["references"]}


def test_an_ingestion_worker_and_two_servers_share_one_knowledge_base(tmp_path, postgres_url, milvus_uri):
    collection = "t_" + uuid.uuid4().hex[:10]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen(
            [*BEDSIDE, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=_env(tmp_path, f"web{n}", postgres_url, milvus_uri, collection),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, port in enumerate(ports)
    ]
    worker_env = _env(tmp_path, "ingest", postgres_url, milvus_uri, collection)

    def start_worker() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(inbox)],
            env=worker_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    worker = start_worker()
    delays: list[float] = []
    kills = 0
    try:
        for port, server in zip(ports, servers, strict=True):

            def healthy(port: int = port, server: subprocess.Popen[str] = server) -> bool:
                if server.poll() is not None:
                    pytest.fail(f"the server on port {port} exited: {server.communicate()[1][-2000:]}")
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
                except httpx.TransportError:
                    return False

            _wait_for(healthy, f"the server on port {port} answering", timeout=120)
        documents = 8
        for i in range(documents):
            (inbox / f"doc-{i}.jsonl").write_text(json.dumps(_record(i)) + "\n")
            if i == documents // 2:  # killed while it may be writing or indexing; restarted
                worker.send_signal(signal.SIGKILL)
                worker.communicate()
                kills += 1
                worker = start_worker()
            written = time.monotonic()
            for port in ports:
                _wait_for(
                    lambda port=port, i=i: _cited(port, i), f"doc-{i} in the answers of port {port}", VISIBLE_WITHIN_S
                )
            delays.append(time.monotonic() - written)
        for i in (2, 5):  # out of the source first: the worker would otherwise ingest them again
            (inbox / f"doc-{i}.jsonl").unlink()
        remover = subprocess.run(
            [*BEDSIDE, "remove", "doc-2", "doc-5"], env=worker_env, capture_output=True, text=True, timeout=120
        )
        assert remover.returncode == 0, remover.stderr
        for port in ports:
            for i in (2, 5):
                _wait_for(lambda port=port, i=i: not _cited(port, i), f"doc-{i} gone from port {port}", 30)
        for port in ports:
            assert all(_cited(port, i) for i in (0, 7))  # the rest still found
    finally:
        for process in [worker, *servers]:
            process.send_signal(signal.SIGKILL)
            process.communicate()

    from bedside import Bedside
    from bedside.config import load_settings
    from bedside.ops.integrity import check_lexical, check_vectors

    settings = load_settings(
        data_dir=tmp_path / "check",
        database_url=postgres_url,
        search_backend="milvus",
        milvus_uri=milvus_uri,
        milvus_collection=collection,
        embedder="hashing",
        starter_kb=False,
    )
    with Bedside(settings=settings) as b:
        docs, passages = b.store.counts()
        assert docs == documents - 2 and sorted(b.store.document_ids()) == sorted(
            f"doc-{i}" for i in range(documents) if i not in (2, 5)
        )
        lexical, dense = check_lexical(b), check_vectors(b)  # every passage once, watermarks at the newest change
        assert lexical.ok and dense.ok, (lexical.detail, dense.detail)
        indexed = b.lexical.seqs()
        lost, duplicated = len(set(b.store.seqs()) - set(indexed)), len(indexed) - len(set(indexed))
        for index in (b.lexical, b.dense):
            b._milvus.drop_collection(index.collection)
    print(
        f"\nscale-out: {documents} documents ingested while 2 servers answered; visible in both within "
        f"{min(delays):.1f}-{max(delays):.1f}s (median {sorted(delays)[len(delays) // 2]:.1f}s); "
        f"ingestion worker killed {kills}x; {passages} passages; lost {lost}, duplicated {duplicated}"
    )
    assert lost == 0 and duplicated == 0
