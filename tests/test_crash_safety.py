"""Kill ingestion with SIGKILL at random points; the store stays consistent and a rerun completes it."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from bedside.store import KnowledgeStore

pytestmark = pytest.mark.slow


def _corpus(folder, files=4, per_file=1500):
    folder.mkdir()
    rng = random.Random(7)
    words = "iron ferritin anaemia cobalamin folate dose mg daily oral intravenous weeks adults".split()
    for f in range(files):
        with (folder / f"part{f}.jsonl").open("w", encoding="utf-8") as out:
            for i in range(per_file):
                sentences = [" ".join(rng.choices(words, k=14)).capitalize() + "." for _ in range(rng.randint(5, 30))]
                out.write(json.dumps({"id": f"{f}-{i}", "title": f"Doc {f}-{i}", "text": " ".join(sentences)}) + "\n")
    return files * per_file


def _ingest(data, corpus):
    env = dict(os.environ, BEDSIDE_DATA_DIR=str(data), BEDSIDE_STARTER_KB="false")
    return subprocess.Popen(
        [sys.executable, "-m", "bedside.cli", "ingest", str(corpus)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _check(data):
    store = KnowledgeStore(data / "knowledge.sqlite")
    try:
        assert store.check_integrity() == []
        for doc_id in store.document_ids()[::97]:
            doc = store.document(doc_id)
            for p in store.passages_of(doc_id):
                assert doc.text[p.start : p.end] == p.text
        return store.counts()[0]
    finally:
        store.close()


def test_sigkill_mid_ingest_then_resume(tmp_path):
    total = _corpus(tmp_path / "corpus")
    data = tmp_path / "data"
    rng = random.Random(11)
    counts = []
    for _ in range(4):
        proc = _ingest(data, tmp_path / "corpus")
        time.sleep(rng.uniform(0.4, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        counts.append(_check(data))
    assert counts[-1] < total or counts[0] < total, "ingestion finished before any kill; make the corpus larger"
    proc = _ingest(data, tmp_path / "corpus")
    try:
        assert proc.wait(timeout=300) == 0
    finally:
        proc.kill()
    assert _check(data) == total
