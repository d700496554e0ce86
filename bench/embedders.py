"""Embedding throughput: the endpoint embedder against a local OpenAI-compatible server beside the in-process model.

    python bench/embedders.py --data ../shared/data [--passages 512] [--batch 64]

The server is this script in a second process (`--serve`): a single-threaded HTTP server answering
POST /v1/embeddings with the real bge-small model (bedside's BgeSmallEmbedder, the ONNX file the dense extra
installs). The client is bedside's EndpointEmbedder, which batches, retries and normalises as in production. So the
two figures differ by what the endpoint path adds on one host (HTTP, JSON encoding of float vectors, process hops);
on a GPU embedding server the endpoint figure would be that server's throughput instead. Both run on the same CPU
cores, one at a time: the passages are split into parts, each embedded by both in alternating order (A-B, B-A, ...),
so this machine's bursts of load fall on both sides alike.

Passages: SciFact abstracts (title and the first 180 words, as bench/scale.py samples them); queries: SciFact claims,
embedded with bge-small's query instruction on both sides. The vectors are compared row by row (cosine).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import corpus_path, read_jsonl

MODEL = "bge-small-en-v1.5"


def serve(port: int) -> None:
    """Serve /v1/embeddings with the local bge-small model until killed; print 'ready PORT' once listening."""
    from bedside.index.bge import BgeSmallEmbedder

    model = BgeSmallEmbedder()
    model.embed(["warm-up: load the ONNX session and the tokenizer"])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/embeddings":
                self.send_error(404)
                return
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
            vecs = model.embed(texts)
            data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)]
            raw = json.dumps({"object": "list", "model": MODEL, "data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = HTTPServer(("127.0.0.1", port), Handler)
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()


def passages(data: Path, n: int, seed: int) -> list[str]:
    rows = [r for r in read_jsonl(corpus_path(data / "scifact")) if len(str(r.get("text") or "").split()) >= 20]
    chosen = random.Random(seed).sample(rows, n)
    return [f"{r.get('title') or ''}. {' '.join(str(r['text']).split()[:180])}".lstrip(". ") for r in chosen]


def queries(data: Path, n: int, seed: int) -> list[str]:
    texts = sorted({str(r["text"]).strip() for r in read_jsonl(data / "scifact" / "queries.jsonl")} - {""})
    return random.Random(seed + 1).sample(texts, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="shared datasets folder")
    parser.add_argument("--passages", type=int, default=512)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--batch", type=int, default=64, help="texts per endpoint request")
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return

    from rich.console import Console
    from rich.table import Table

    from bedside.index.bge import QUERY_INSTRUCTION, BgeSmallEmbedder
    from bedside.index.endpoint import EndpointEmbedder

    texts, qs = passages(args.data, args.passages, args.seed), queries(args.data, args.queries, args.seed)
    server = subprocess.Popen([sys.executable, __file__, "--serve", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline().split()
        if line[:1] != ["ready"]:
            raise SystemExit("the embeddings server did not start")
        base_url = f"http://127.0.0.1:{line[1]}/v1"
        local = BgeSmallEmbedder()
        local.embed(["warm-up: load the ONNX session and the tokenizer"])
        remote = EndpointEmbedder(base_url, MODEL, batch_size=args.batch, query_instruction=QUERY_INSTRUCTION)
        seconds = {"local": 0.0, "endpoint": 0.0}
        vecs: dict[str, list[np.ndarray]] = {"local": [], "endpoint": []}
        size = -(-len(texts) // args.parts)
        for i in range(args.parts):
            part = texts[i * size : (i + 1) * size]
            order = ("local", "endpoint") if i % 2 == 0 else ("endpoint", "local")
            for kind in order:
                model = local if kind == "local" else remote
                start = time.perf_counter()
                out = model.embed(part, batch_size=32)
                seconds[kind] += time.perf_counter() - start
                vecs[kind].append(out)
        a, b = np.concatenate(vecs["local"]), np.concatenate(vecs["endpoint"])
        cos = np.sum(a * b, axis=1)
        q_ms: dict[str, list[float]] = {"local": [], "endpoint": []}
        q_cos = []
        for i, q in enumerate(qs):
            got = {}
            for kind in ("local", "endpoint") if i % 2 == 0 else ("endpoint", "local"):
                model = local if kind == "local" else remote
                start = time.perf_counter()
                got[kind] = model.embed_query(q)
                q_ms[kind].append((time.perf_counter() - start) * 1000)
            q_cos.append(float(got["local"] @ got["endpoint"]))
        remote.close()
    finally:
        server.kill()
        server.wait()

    table = Table(title=f"bge-small: in-process vs OpenAI-compatible endpoint on this host ({len(texts)} passages)")
    table.add_column("metric")
    table.add_column("in-process (baseline)", justify="right")
    table.add_column("endpoint", justify="right")
    table.add_column("ratio", justify="right")
    rate = {k: len(texts) / s for k, s in seconds.items()}
    table.add_row(
        "passages/s", f"{rate['local']:.1f}", f"{rate['endpoint']:.1f}", f"{rate['endpoint'] / rate['local']:.2f}x"
    )
    for q in (50, 95):
        lo, en = (float(np.percentile(q_ms[k], q)) for k in ("local", "endpoint"))
        table.add_row(f"query embedding p{q} ms ({len(qs)} queries)", f"{lo:.1f}", f"{en:.1f}", f"{en / lo:.2f}x")
    table.add_row(
        "passage vectors: min / mean cosine, endpoint vs in-process", "", f"{cos.min():.6f} / {cos.mean():.6f}", ""
    )
    table.add_row("query vectors: min cosine", "", f"{min(q_cos):.6f}", "")
    console = Console(width=160)
    console.print(table)
    console.print(
        f"Endpoint: bedside's EndpointEmbedder, {args.batch} texts a request, to a single-threaded local server "
        "running the same bge-small ONNX model (this script, --serve), on the same cores; in-process: "
        "BgeSmallEmbedder, batches of 32 (the server embeds each request in batches of 32 too)."
    )


if __name__ == "__main__":
    main()
