"""Web latency under load: p50/p95 of POST /api/ask with 8 concurrent clients, beside GET /api/health.

    python bench/web.py                                  # starts its own server (starter KB, hashing embedder)
    python bench/web.py --url http://127.0.0.1:8000      # against a server you started (`bedside serve`)
    python bench/web.py --duration 10 --connections 8

Three runs of `--duration` seconds each, with `wrk` (Debian: apt-get install wrk) and a Lua script for the POST
body, or a Python thread pool when wrk is missing (slower client, same measurements):
  * GET /api/health: the baseline (routing, middleware, JSON; no knowledge base);
  * POST /api/ask, known questions: a few questions over and over, so each opens its existing article;
  * POST /api/ask, new questions: every request a question not asked before, so every one composes an answer.
Only 127.0.0.1 is ever a target.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

KNOWN = [
    "What is the first-line treatment for community-acquired pneumonia?",
    "How is iron deficiency anaemia treated?",
    "What is the dose of hydroxocobalamin for vitamin B12 deficiency?",
    "How is hyperkalaemia treated?",
]
TOPICS = ["gout", "asthma", "heart failure", "hypertension", "sepsis", "migraine", "depression", "COPD"]

LUA = r"""
local known = {KNOWN}
local topics = {TOPICS}
local mode = "{MODE}"
local counter = 0
local thread_id = 0
local next_id = 0

setup = function(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
end

request = function()
  counter = counter + 1
  if mode == "health" then
    return wrk.format("GET", "/api/health")
  end
  local q
  if mode == "known" then
    q = known[(counter % #known) + 1]
  else
    q = "What is the first-line treatment for " .. topics[(counter % #topics) + 1] ..
        " in patient " .. thread_id .. "-" .. counter .. "?"
  end
  local body = '{"question": "' .. q .. '"}'
  return wrk.format("POST", "/api/ask", {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "errors": %d, "non2xx": %d, "seconds": %f, ' ..
    '"p50": %f, "p95": %f, "p99": %f}\n', summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
    latency:percentile(99) / 1e3))
end
"""


def lua_list(items: list[str]) -> str:
    return "{" + ", ".join(json.dumps(i) for i in items) + "}"


def run_wrk(url: str, mode: str, seconds: int, connections: int) -> dict[str, float]:
    script = LUA.replace("{KNOWN}", lua_list(KNOWN)).replace("{TOPICS}", lua_list(TOPICS)).replace("{MODE}", mode)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        threads = min(connections, 2)
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", f.name, url]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(f.name)
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT "))
    result: dict[str, float] = json.loads(line[len("RESULT ") :])
    return result


def run_python(url: str, mode: str, seconds: int, connections: int) -> dict[str, float]:
    """The fallback client: `connections` threads, each with one keep-alive connection."""
    parts = urlsplit(url)
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
        i = 0
        while time.monotonic() < deadline:
            i += 1
            if mode == "health":
                method, path, body = "GET", "/api/health", None
            else:
                q = (
                    KNOWN[i % len(KNOWN)]
                    if mode == "known"
                    else f"What is the first-line treatment for {TOPICS[i % 8]} in patient {n}-{i}?"
                )
                method, path, body = "POST", "/api/ask", json.dumps({"question": q})
            start = time.perf_counter()
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                latencies.append(elapsed)
                failures[0] += response.status >= 400
        conn.close()

    started = time.monotonic()
    workers = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "requests": len(latencies),
        "errors": 0,
        "non2xx": failures[0],
        "seconds": time.monotonic() - started,
        "p50": q[49],
        "p95": q[94],
        "p99": q[98],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def own_server(data_dir: Path | None) -> Iterator[str]:
    """`uvicorn` serving create_app() on 127.0.0.1, in a data directory of its own unless one is given."""
    tmp = None if data_dir else tempfile.mkdtemp(prefix="bedside-bench-web-")
    port = free_port()
    env = {
        **os.environ,
        "BEDSIDE_DATA_DIR": str(data_dir or tmp),
        "BEDSIDE_EMBEDDER": os.environ.get("BEDSIDE_EMBEDDER", "hashing"),
    }
    code = (
        "import uvicorn; from bedside.web import create_app; "
        f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning', access_log=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300  # the first start loads the starter knowledge base
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/api/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running server (default: start one)")
    ap.add_argument("--data-dir", type=Path, help="data directory for the server this script starts")
    ap.add_argument("--duration", type=int, default=30, help="seconds per run (default 30)")
    ap.add_argument("--connections", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    args = ap.parse_args()
    if args.url and urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("only a server on this machine (127.0.0.1) may be load-tested")
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    run = run_wrk if client == "wrk" else run_python
    with own_server(args.data_dir) if not args.url else _given(args.url) as url:
        for q in KNOWN:  # compose the known articles once, so the "known" run measures opening them
            conn = http.client.HTTPConnection(urlsplit(url).hostname or "", urlsplit(url).port or 80, timeout=60)
            conn.request(
                "POST", "/api/ask", body=json.dumps({"question": q}), headers={"Content-Type": "application/json"}
            )
            conn.getresponse().read()
        rows = [
            (label, run(url, mode, args.duration, args.connections))
            for label, mode in (
                ("GET /api/health (baseline)", "health"),
                ("POST /api/ask, known questions", "known"),
                ("POST /api/ask, new questions", "new"),
            )
        ]
    base = rows[0][1]
    print(f"\n{args.connections} concurrent clients, {args.duration} s per run, client: {client}\n")
    heads = (
        ("requests", 10),
        ("req/s", 9),
        ("p50 ms", 9),
        ("p95 ms", 9),
        ("p99 ms", 9),
        ("p50 / base", 12),
        ("errors", 8),
    )
    print(f"{'endpoint':<34}" + "".join(f"{h:>{w}}" for h, w in heads))
    for label, r in rows:
        print(
            f"{label:<34}{int(r['requests']):>10}{r['requests'] / r['seconds']:>9.1f}{r['p50']:>9.1f}{r['p95']:>9.1f}"
            f"{r['p99']:>9.1f}{r['p50'] / base['p50']:>11.1f}x{int(r['errors'] + r['non2xx']):>8}"
        )


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url.rstrip("/")


if __name__ == "__main__":
    main()
