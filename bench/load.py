"""The web server under sustained load, overload, a slow LLM, an LLM outage and pathological questions.

    pip install -e ".[bench]"        # locust
    python bench/load.py --corpus ../shared/data/medquad/corpus.jsonl.gz --queries ../shared/data/medquad/queries.jsonl

Builds (once, cached under --out) a data directory with the first --documents documents of the corpus plus the
starter knowledge base, starts `bedside serve` in a subprocess and drives it with locust (bench/locustfile.py):

  1. pages: article pages, article JSON and article search under --users concurrent readers, beside a static file
     served by the same server (the baseline: routing and middleware, no application work);
  2. ask overload: --askers users posting new questions without pause, with admission control (the defaults) and,
     as the baseline, with it switched off (an unbounded queue): answers, refusals (503 + Retry-After), latencies;
  3. a scripted OpenAI-compatible LLM taking --llm-delay seconds per answer: readers and askers together, page
     latency beside phase 1's;
  4. an LLM outage (the endpoint hangs past the timeout), then recovery: per-question latency and composer, and
     the time from the endpoint's return to the first answer composed by it again;
  5. pathological questions (only very common words, up to 2,000 characters) beside ordinary new questions.

With --attack, instead: slow clients and large bodies against `bedside serve` with its request limits and, as the
baseline, with them off (bench/attack.py): /api/health p50 under attack beside idle, and the server's peak memory.
Needs no corpus (the starter knowledge base only) and no locust:

    python bench/load.py --attack [--attack-seconds 15] [--slow-clients 1100] [--body-mb 50]

Questions come from the queries' dev split. Only 127.0.0.1 is ever a target.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from datasets import read_jsonl

from bedside import Bedside
from bedside.config import load_settings

HERE = Path(__file__).parent
COMMON = (
    "what is the treatment of the disease in patients with symptoms and causes of condition for people who have "
    "a pain or problems how can it be used to help when should they do if are there any other health care"
).split()


# -- the data and the server ----------------------------------------------------------------------------------------


def build_data(corpus: Path, documents: int, out: Path, embedder: str) -> Path:
    """A data directory with the first `documents` documents of `corpus` and the starter knowledge base."""
    data = out / f"load-{corpus.name.split('.')[0]}-{documents}-{embedder}"
    if (data / "ready").exists():
        return data
    with tempfile.TemporaryDirectory() as tmp:
        subset = Path(tmp) / "subset.jsonl"
        with subset.open("w", encoding="utf-8") as f:
            for i, row in enumerate(read_jsonl(corpus)):
                if i >= documents:
                    break
                f.write(json.dumps(row) + "\n")
        env = {**os.environ, "BEDSIDE_DATA_DIR": str(data), "BEDSIDE_EMBEDDER": embedder}
        subprocess.run([str(Path(sys.executable).parent / "bedside"), "ingest", str(subset)], env=env, check=True)
        with Bedside(settings=load_settings(data_dir=data, embedder=embedder)) as b:
            b.ensure_starter_kb()
            print(f"  {data.name}: {b.stats()['documents']} documents, {b.stats()['passages']} passages")
    (data / "ready").write_text("ok\n")
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(data: Path, embedder: str, **env: str) -> Iterator[str]:
    """`bedside serve` on a free port of 127.0.0.1, with BEDSIDE_* settings from `env`."""
    port = free_port()
    environ = {**os.environ, "BEDSIDE_DATA_DIR": str(data), "BEDSIDE_EMBEDDER": embedder}
    environ |= {f"BEDSIDE_{k.upper()}": v for k, v in env.items()}
    cli = Path(sys.executable).parent / "bedside"
    proc = subprocess.Popen(
        [str(cli), "serve", "--port", str(port)], env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while call(url, "GET", "/api/health")[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"bedside serve did not start: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(20)


def call(url: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any], float]:
    """(status, JSON body or {}, seconds)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data, {"Content-Type": "application/json"}, method=method)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError:
        return 0, {}, time.perf_counter() - started
    elapsed = time.perf_counter() - started
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        parsed = {}
    return status, parsed if isinstance(parsed, dict) else {}, elapsed


# -- a scripted LLM -------------------------------------------------------------------------------------------------

PASSAGE = re.compile(r"<<<PASSAGE (\d+)>>>.*?\nText:\n(.*?)\n<<<END PASSAGE \1>>>", re.S)


class ScriptedLlm(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint quoting the first sentence of the first two passages after `delay` seconds;
    mode "hang" holds the connection for a minute (an outage that looks like a stuck server)."""

    delay = 2.0
    mode = "ok"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        time.sleep(60 if type(self).mode == "hang" else type(self).delay)
        prompt = "\n".join(m["content"] for m in request["messages"])
        passages = sorted((int(n), text) for n, text in PASSAGE.findall(prompt))[:2]
        statements = [{"text": text.split(". ")[0].rstrip(".") + ".", "passages": [n]} for n, text in passages]
        draft = {
            "title": "Answer",
            "bottom_line": statements[:1],
            "sections": [{"heading": "Detail", "statements": statements[1:]}],
        }
        message = {"role": "assistant", "content": json.dumps(draft)}
        if request.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            delta = {"choices": [{"index": 0, "delta": {"content": message["content"]}}]}
            self.wfile.write(f"data: {json.dumps(delta)}\n\ndata: [DONE]\n\n".encode())
            return
        body = json.dumps({"choices": [{"index": 0, "message": message}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def scripted_llm(delay: float) -> Iterator[str]:
    ScriptedLlm.delay, ScriptedLlm.mode = delay, "ok"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedLlm)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- locust ---------------------------------------------------------------------------------------------------------


def locust(
    url: str, scenario: str, users: int, seconds: int, questions: list[str], slugs: list[str]
) -> dict[str, dict[str, float]]:
    """Run bench/locustfile.py headless; rows of its stats CSV by request name."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "q.txt").write_text("\n".join(questions), encoding="utf-8")
        (Path(tmp) / "s.txt").write_text("\n".join(slugs), encoding="utf-8")
        env = {**os.environ, "LOAD_SCENARIO": scenario, "LOAD_QUESTIONS": f"{tmp}/q.txt", "LOAD_SLUGS": f"{tmp}/s.txt"}
        locust_bin = Path(sys.executable).parent / "locust"
        cmd = [
            str(locust_bin),
            "-f",
            str(HERE / "locustfile.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            url,
            "--csv",
            f"{tmp}/run",
            "--only-summary",
            "--loglevel",
            "ERROR",
        ]
        subprocess.run(cmd, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(f"{tmp}/run_stats.csv", encoding="utf-8") as f:
            return {
                row["Name"]: {k: _num(v) for k, v in row.items() if k not in ("Type", "Name")}
                for row in csv.DictReader(f)
            }


def _num(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


def table(title: str, rows: dict[str, dict[str, float]], names: list[str] | None = None) -> None:
    print(f"\n{title}")
    print(
        f"  {'request':<28} {'count':>7} {'fail':>5} {'req/s':>7} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for name in names or [n for n in rows if n != "Aggregated"]:
        r = rows.get(name)
        if r is None:
            continue
        print(
            f"  {name:<28} {r['Request Count']:>7.0f} {r['Failure Count']:>5.0f} {r['Requests/s']:>7.1f} "
            f"{r['50%']:>8.0f} {r['95%']:>8.0f} {r['99%']:>8.0f} {r['Max Response Time']:>8.0f}"
        )


# -- phases ---------------------------------------------------------------------------------------------------------


def seed(url: str, questions: list[str]) -> list[str]:
    """Ask each question once (articles for the readers); their slugs."""
    slugs = []
    for i, q in enumerate(questions, 1):
        status, body, _ = call(url, "POST", "/api/ask", {"question": q})
        if status == 200:
            slugs.append(str(body["slug"]))
        print(f"\r  seeding articles {i}/{len(questions)}", end="", flush=True)
    print()
    return slugs


def outage(url: str, questions: list[str], retry_after: float) -> None:
    """The endpoint hangs: ask one question after another; then it comes back: time to the first LLM answer."""
    print("\nPhase 4: LLM outage (the endpoint hangs; timeout 5 s, pause after 3 failures)")
    ScriptedLlm.mode = "hang"
    for q in questions[:6]:
        status, body, seconds = call(url, "POST", "/api/ask", {"question": q})
        meta = body.get("meta", {})
        notice = " ".join(meta.get("notices", [])) or "no LLM call (evidence did not cover the question)"
        print(
            f"  during outage: HTTP {status} in {seconds:6.2f} s, composer {meta.get('composer', '?')}: {notice[:90]}"
        )
    ScriptedLlm.mode = "ok"
    back = time.perf_counter()
    for q in questions[6:60]:
        status, body, seconds = call(url, "POST", "/api/ask", {"question": q})
        composer = str(body.get("meta", {}).get("composer", "?"))
        if composer.startswith("llm"):
            print(
                f"  endpoint back: first LLM answer {time.perf_counter() - back:.1f} s later "
                f"(pause {retry_after:g} s + one LLM answer); that answer took {seconds:.2f} s"
            )
            return
        time.sleep(0.5)
    print("  endpoint back: no LLM answer within the questions tried (not recovered)")


def pathological(url: str, ordinary: list[str], count: int) -> None:
    """New questions of only very common words (up to 2,000 characters), beside ordinary new questions."""
    rng = random.Random(7)
    odd = []
    for _ in range(count):
        words = [rng.choice(COMMON) for _ in range(rng.randint(20, 320))]
        odd.append(" ".join(words)[:1990].rsplit(" ", 1)[0] + "?")
    print("\nPhase 5: pathological questions (common words only) beside ordinary new questions, one at a time")
    for label, qs in (("ordinary", ordinary[:count]), ("common words only", odd)):
        times = []
        for q in qs:
            status, _, seconds = call(url, "POST", "/api/ask", {"question": q})
            assert status in (200, 422), status
            times.append(seconds * 1000)
        times.sort()
        print(
            f"  {label:<20} n={len(times):>3}  p50 {statistics.median(times):7.0f} ms  "
            f"p95 {times[int(0.95 * (len(times) - 1))]:7.0f} ms  max {times[-1]:7.0f} ms"
        )


def attack_phase(a: argparse.Namespace) -> None:
    """Slow clients and large bodies, limits on and off, over a data directory with the starter KB only."""
    from attack import run_attacks

    data = Path(tempfile.mkdtemp(prefix="bedside-attack-")) / "data"
    with Bedside(settings=load_settings(data_dir=data, embedder="hashing")) as b:
        b.ensure_starter_kb()
    print(
        f"Attack: {a.attack_seconds:g} s of health checks per scenario, server fd limit 1024, attackers from 127.0.0.2"
    )
    try:
        run_attacks(data, a.attack_seconds, a.slow_clients, a.body_mb)
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=HERE.parent.parent / "shared/data/medquad/corpus.jsonl.gz")
    p.add_argument("--queries", type=Path, default=HERE.parent.parent / "shared/data/medquad/queries.jsonl")
    p.add_argument("--documents", type=int, default=5000)
    p.add_argument("--embedder", default="hashing", choices=["hashing", "bge-small"])
    p.add_argument("--out", type=Path, default=HERE / "out")
    p.add_argument("--users", type=int, default=20, help="concurrent readers")
    p.add_argument("--askers", type=int, default=40, help="concurrent users asking new questions")
    p.add_argument("--duration", type=int, default=30, help="seconds per locust phase")
    p.add_argument("--llm-delay", type=float, default=2.0)
    p.add_argument("--attack", action="store_true", help="run the slow-client and large-body scenarios only")
    p.add_argument("--attack-seconds", type=float, default=15.0, help="seconds of health checks per scenario")
    p.add_argument("--slow-clients", type=int, default=1100)
    p.add_argument("--body-mb", type=int, default=50, help="size of each large body, in MB")
    a = p.parse_args()
    if a.attack:
        attack_phase(a)
        return

    questions = [str(r["text"]) for r in read_jsonl(a.queries) if r.get("split") == "dev"]
    random.Random(1).shuffle(questions)
    print(f"Phase 0: data ({a.documents} documents of {a.corpus.name} + starter KB, {a.embedder} embedder)")
    built = build_data(a.corpus, a.documents, a.out, a.embedder)
    data = Path(tempfile.mkdtemp(prefix="bedside-load-")) / "data"
    fresh = shutil.ignore_patterns("bedside.db*", "conversations.sqlite*", "sessions.db*")
    shutil.copytree(built, data, ignore=fresh)  # every run starts with no articles and no conversations
    pool = iter(questions[40:])

    def take(n: int) -> list[str]:  # (locust users make up numbered questions when these run out)
        return list(itertools.islice(pool, n))

    with server(data, a.embedder) as url:
        slugs = seed(url, questions[:40])
        rows = locust(url, "pages", a.users, a.duration, [], slugs)
        table(f"Phase 1: pages, {a.users} readers, {a.duration} s (baseline: a static file, same server)", rows)
        static, page = rows["GET /static (baseline)"], rows["GET /articles/{slug}"]
        print(f"  article page p95 / static p95: {page['95%'] / max(static['95%'], 1):.1f}x")
        pages_p95 = {n: r["95%"] for n, r in rows.items()}
        ours = locust(url, "ask", a.askers, a.duration, take(2500), slugs)
        pathological(url, take(20), 20)
    with server(data, a.embedder, ask_queue="10000", ask_wait="3600") as url:
        unbounded = locust(url, "ask", a.askers, a.duration, take(1500), slugs)
    names = ["POST /api/ask (all)", "ask -> 200", "ask -> 503"]
    table(f"Phase 2: {a.askers} users asking new questions, admission control on (4 at once, 16 waiting)", ours, names)
    table("         baseline: admission control off (unbounded queue)", unbounded, names)

    with (
        scripted_llm(a.llm_delay) as llm,
        server(data, a.embedder, llm_base_url=llm, llm_model="scripted", llm_timeout="5", llm_retry_after="5") as url,
    ):
        mixed = locust(url, "mixed", a.users + a.askers // 2, a.duration, take(2500), slugs)
        table(f"Phase 3: readers and askers together, LLM answering in {a.llm_delay:g} s", mixed)
        for name in ("GET /articles/{slug}", "GET /search?q=", "GET /api/articles/{slug}"):
            if name in mixed and name in pages_p95:
                print(f"  {name}: p95 {mixed[name]['95%']:.0f} ms vs {pages_p95[name]:.0f} ms without the LLM")
        outage(url, take(60), 5.0)
    shutil.rmtree(data.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
