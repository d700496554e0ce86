"""The embeddings-endpoint embedder against a real HTTP server the tests start (tests/embeddings_server.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bedside.errors import InvalidInput, UpstreamError
from bedside.index.embedder import HashingEmbedder
from bedside.index.endpoint import EndpointEmbedder, check_probe, embeddings_url
from embeddings_server import embeddings_server

TEXTS = [f"Passage {i} about iron deficiency and ferritin number {i}." for i in range(10)]


def _embedder(server, sleeps: list[float] | None = None, **kw) -> EndpointEmbedder:
    options = {"batch_size": 4, "retries": 3, "backoff": 0.01, "timeout": 5.0, **kw}
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return EndpointEmbedder(server.url, "test-model", "sk-secret", sleep=record, **options)


def _expected(texts, dim=32) -> np.ndarray:
    return HashingEmbedder(dim).embed([f" {t}" for t in texts])


def test_urls_as_users_write_them():
    assert embeddings_url("http://gpu:8080") == "http://gpu:8080/v1/embeddings"
    assert embeddings_url("http://gpu:8080/v1/") == "http://gpu:8080/v1/embeddings"
    assert embeddings_url("https://h/api/v1/embeddings") == "https://h/api/v1/embeddings"
    with pytest.raises(InvalidInput):
        embeddings_url("gpu:8080")


def test_batches_normalised_vectors_in_input_order():
    with embeddings_server() as server:
        e = _embedder(server)
        try:
            assert (e.name, e.dim) == ("endpoint:test-model", 32)
            vecs = e.embed(TEXTS)
            np.testing.assert_allclose(vecs, _expected(TEXTS), atol=1e-6)  # the server's were 3x longer
            sizes = [len(r["input"]) for r in server.requests]
            assert sizes == [1, 4, 4, 2]  # the probe, then batches of 4
            assert {r["model"] for r in server.requests} == {"test-model"}
            assert {r["auth"] for r in server.requests} == {"Bearer sk-secret"}
            assert {r["path"] for r in server.requests} == {"/v1/embeddings"}
            server.script = ["shuffled"]
            np.testing.assert_allclose(e.embed(TEXTS[:3]), _expected(TEXTS[:3]), atol=1e-6)
            e.query_instruction = "Represent: "
            np.testing.assert_allclose(e.embed_query("q"), _expected(["Represent: q"])[0], atol=1e-6)
            assert e.embed([]).shape == (0, 32)
        finally:
            e.close()


@pytest.mark.parametrize("mode", ["500", "429", "not-json", "short", "nan", "bad-index", "slow"])
def test_a_passing_failure_is_retried(mode):
    with embeddings_server(slow_s=1.5) as server:
        sleeps: list[float] = []
        e = _embedder(server, sleeps, timeout=0.5)
        try:
            server.script = [mode, mode]
            np.testing.assert_allclose(e.embed(TEXTS[:3]), _expected(TEXTS[:3]), atol=1e-6)
            assert len(sleeps) == 2 and sleeps[1] > sleeps[0]  # backed off twice, longer the second time
        finally:
            e.close()


def test_a_failure_that_outlasts_the_retries_names_the_endpoint_and_the_batch_but_not_the_key():
    with embeddings_server() as server:
        sleeps: list[float] = []
        e = _embedder(server, sleeps)
        try:
            server.script, server.default = ["ok"], "500"  # the first batch passes, the second never does
            with pytest.raises(UpstreamError, match=r"texts 5-8\) failed after 4 tries: HTTP 500") as info:
                e.embed(TEXTS)
            assert server.url in str(info.value) and "sk-secret" not in str(info.value)
            assert len(sleeps) == 3
        finally:
            e.close()


@pytest.mark.parametrize(("mode", "message"), [("wrong-dim", "dimension \\[33\\]"), ("401", "HTTP 401")])
def test_a_lasting_problem_fails_at_once(mode, message):
    with embeddings_server() as server:
        sleeps: list[float] = []
        e = _embedder(server, sleeps)
        try:
            server.script = [mode]
            with pytest.raises(UpstreamError, match=message):
                e.embed(TEXTS[:2])
            assert sleeps == []
        finally:
            e.close()


def test_an_unreachable_endpoint_is_an_upstream_error():
    with embeddings_server() as server:
        url = server.url
    with pytest.raises(UpstreamError, match="connection failed"):
        EndpointEmbedder(url, "test-model", retries=1, backoff=0.0, sleep=lambda s: None)


def test_the_probe_refuses_another_model_under_the_same_name():
    with embeddings_server() as server:
        first = _embedder(server)
        recorded = check_probe(first, None)
        assert check_probe(first, recorded) == recorded
        server.seed_word = "another model"
        second = _embedder(server)
        with pytest.raises(InvalidInput, match="probe agreement"):
            check_probe(second, recorded)
        first.close()
        second.close()


def test_bedside_indexes_and_searches_through_the_endpoint(tmp_path, monkeypatch):
    from bedside import Bedside

    corpus = tmp_path / "c.jsonl"
    records = [
        {"id": "b12", "title": "B12", "text": "Hydroxocobalamin 1 mg IM treats vitamin B12 deficiency."},
        {"id": "gout", "title": "Gout", "text": "Colchicine treats acute gout flares."},
    ]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records))
    with embeddings_server() as server:
        monkeypatch.setenv("BEDSIDE_EMBEDDER", "endpoint")
        monkeypatch.setenv("BEDSIDE_EMBEDDER_BASE_URL", server.url)
        monkeypatch.setenv("BEDSIDE_EMBEDDER_MODEL", "test-model")
        with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:
            assert b.dense is not None and b.dense.embedder.name == "endpoint:test-model"
            assert b.ingest([corpus]).added == 2
            assert b.dense.count() == 2
            hits = b.searcher.dense.search_vector(b.dense.embedder.embed_query("colchicine gout flares"), 1)
            assert b.store.passages_by_seq([hits[0].seq])[hits[0].seq].document_id == "gout"
        server.seed_word = "a different model"
        with pytest.raises(InvalidInput, match="probe agreement"):
            Bedside(data_dir=tmp_path / "data", starter_kb=False)
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:  # the endpoint is down: lexical search goes on
        assert b.dense is None and any("dense retrieval unavailable" in n for n in b.notices)
        assert [h.document_id for h in b.search("colchicine", limit=1)] == ["gout"]
