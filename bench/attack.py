"""Slow clients and large bodies against `bedside serve`, with its limits and (the baseline) with them switched off.

Used by `python bench/load.py --attack`. Each server runs as a subprocess with the file-descriptor limit a service
usually gets (1,024), over a data directory holding only the starter knowledge base. While an attack runs, a
monitor asks /api/health on a fresh connection every 50 ms from 127.0.0.1; the attackers connect from 127.0.0.2.

  slow clients: --slow-clients connections that send a partial request line and one header line a second, never
                finishing (reopened when the server closes them);
  large bodies: 4 clients each posting a --body-mb MB body to /api/ask as fast as loopback allows, over and over.

Printed per run: health p50 and p95 (ms) and the share of health checks that failed, and the server's peak
resident memory (VmHWM) and resident memory after the attack.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ATTACKER = "127.0.0.2"
FD_LIMIT = 1024
OFF = {  # the baseline: every limit out of reach
    "max_body_bytes": str(10**12),
    "body_timeout": "1e9",
    "header_timeout": "1e9",
    "keep_alive_timeout": "5",
    "max_connections": str(10**9),
    "max_connections_per_client": str(10**9),
    "max_requests_in_flight": str(10**9),
}


@dataclass
class Run:
    label: str
    p50_ms: float
    p95_ms: float
    failed: float
    peak_mb: float
    after_mb: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@contextmanager
def serve(data: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """`bedside serve` on a free port with BEDSIDE_* settings from `env`; (host:port, pid)."""
    port = _free_port()
    environ = {**os.environ, "BEDSIDE_DATA_DIR": str(data), "BEDSIDE_EMBEDDER": "hashing"}
    environ |= {f"BEDSIDE_{k.upper()}": v for k, v in env.items()}
    cli = Path(sys.executable).parent / "bedside"
    proc = subprocess.Popen(
        [str(cli), "serve", "--port", str(port)],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_limit_fds,
    )
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while _health(address) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bedside serve did not start")
            time.sleep(0.3)
        yield address, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _health(address: str) -> float | None:
    """Seconds for one GET /api/health on a new connection, or None when it failed."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://{address}/api/health", timeout=5) as r:
            r.read()
            ok = r.status == 200
    except OSError:
        return None
    return time.perf_counter() - started if ok else None


def _memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(label: str, address: str, pid: int, seconds: float, attack: Callable[[threading.Event], None]) -> Run:
    """Health latency every 50 ms while `attack` runs (in threads) for `seconds`."""
    stop = threading.Event()
    workers = [threading.Thread(target=attack, args=(stop,), daemon=True)]
    for w in workers:
        w.start()
    time.sleep(min(2.0, seconds / 4))  # let the attack build up
    times, failures = [], 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        took = _health(address)
        if took is None:
            failures += 1
        else:
            times.append(took * 1000)
        time.sleep(0.05)
    peak = _memory_mb(pid, "VmHWM")
    stop.set()
    for w in workers:
        w.join(30)
    time.sleep(1)
    times.sort()
    total = len(times) + failures
    p50 = statistics.median(times) if times else float("nan")
    p95 = times[int(0.95 * (len(times) - 1))] if times else float("nan")
    return Run(label, p50, p95, failures / max(total, 1), peak, _memory_mb(pid, "VmRSS"))


def idle(stop: threading.Event) -> None:
    stop.wait()


def slow_clients(address: str, count: int) -> Callable[[threading.Event], None]:
    host, port = address.split(":")

    async def one(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(host, int(port), local_addr=(ATTACKER, 0))
            except OSError:
                await asyncio.sleep(0.5)
                continue
            try:
                writer.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
                while not stop.is_set() and not reader.at_eof():
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()
                    try:
                        await asyncio.wait_for(reader.read(1024), 1.0)
                    except TimeoutError:
                        continue
            except OSError:
                pass
            finally:
                writer.close()

    def attack(stop: threading.Event) -> None:
        async def main() -> None:
            await asyncio.gather(*(one(stop) for _ in range(count)), return_exceptions=True)

        asyncio.run(main())

    return attack


def large_bodies(address: str, megabytes: int, clients: int = 4) -> Callable[[threading.Event], None]:
    host, port = address.split(":")
    size = megabytes * 1_000_000
    chunk = b"a" * 1_000_000

    def one(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with socket.create_connection((host, int(port)), timeout=30, source_address=(ATTACKER, 0)) as s:
                    s.sendall(
                        b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b'Content-Length: %d\r\n\r\n{"question": "' % (size + 16)
                    )
                    sent = 0
                    while sent < size and not stop.is_set():
                        s.sendall(chunk)
                        sent += len(chunk)
                    s.sendall(b'"}')
                    while s.recv(65536):
                        pass
            except OSError:
                time.sleep(0.05)

    def attack(stop: threading.Event) -> None:
        threads = [threading.Thread(target=one, args=(stop,), daemon=True) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    return attack


def run_attacks(data: Path, seconds: float, slow: int, body_mb: int) -> None:
    """Every scenario against the server with its limits and with them off; prints one table."""
    runs: list[Run] = []
    for setting, env in (("limits on", {}), ("limits off (baseline)", OFF)):
        for name, make in (
            ("idle", lambda a: idle),
            (f"{slow} slow clients", lambda a: slow_clients(a, slow)),
            (f"4 x {body_mb} MB bodies", lambda a: large_bodies(a, body_mb)),
        ):
            with serve(data, env) as (address, pid):  # a fresh server each: VmHWM is the scenario's own peak
                runs.append(measure(f"{name}, {setting}", address, pid, seconds, make(address)))
                r = runs[-1]
                print(
                    f"  {r.label:<40} health p50 {r.p50_ms:8.1f} ms  p95 {r.p95_ms:8.1f} ms  "
                    f"failed {r.failed:6.1%}  peak RSS {r.peak_mb:7.0f} MB  after {r.after_mb:7.0f} MB",
                    flush=True,
                )
    idle_on = runs[0].p50_ms
    print(
        f"\n  health p50 under attack / idle (limits on): slow clients {runs[1].p50_ms / idle_on:.1f}x, "
        f"large bodies {runs[2].p50_ms / idle_on:.1f}x"
    )
