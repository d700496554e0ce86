"""Start-up time of the `bedside` command, beside a bare `python -c pass`.

    python bench/startup.py [--runs 10] [--question "How is hyperkalaemia treated?"] [--data-dir DIR] [--module]

Every figure is a fresh process of this interpreter, timed from start to exit with its output discarded; median
and p90 over --runs, the commands taking turns so that a slow spell of the machine hits them all alike:
  python -c pass      the baseline: the interpreter starting and stopping
  bedside --version   and --help: should import Click and nothing of the engine (target 0.3 s)
  bedside ask Q       a whole-process answer from the starter knowledge base (target 1 s), in a temporary data
                      directory (or --data-dir) warmed by one untimed run, so loading the starter knowledge base
                      into it is not timed
`bedside` is the console script beside this interpreter (`python -m bedside` with --module, or without one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "How is hyperkalaemia treated?"


def bedside_command(module: bool) -> list[str]:
    """The command that starts `bedside` with this interpreter."""
    script = Path(sys.executable).parent / ("bedside.exe" if os.name == "nt" else "bedside")
    return [str(script)] if script.is_file() and not module else [sys.executable, "-m", "bedside"]


def run_once(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode(errors='replace')}")
    return elapsed


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10, help="timed runs of each command (default 10)")
    ap.add_argument("--question", default=QUESTION, help=f"the question for `bedside ask` (default {QUESTION!r})")
    ap.add_argument("--data-dir", type=Path, help="data directory for `bedside ask` (default: a temporary one)")
    ap.add_argument("--module", action="store_true", help="run `python -m bedside` instead of the script")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")

    tmp = None if args.data_dir else tempfile.mkdtemp(prefix="bedside-bench-startup-")
    env = {**os.environ, "BEDSIDE_DATA_DIR": str(args.data_dir or tmp), "BEDSIDE_STARTER_KB": "true"}
    bedside = bedside_command(args.module)
    commands = [
        ("python -c pass (baseline)", [sys.executable, "-c", "pass"], None),
        ("bedside --version", [*bedside, "--version"], 0.3),
        ("bedside --help", [*bedside, "--help"], 0.3),
        ("bedside ask QUESTION", [*bedside, "ask", args.question], 1.0),
    ]
    try:
        warm = time.perf_counter()
        run_once([*bedside, "ask", args.question], env)  # loads the starter knowledge base into a new data dir
        warm_s = time.perf_counter() - warm
        times: dict[str, list[float]] = {label: [] for label, _argv, _target in commands}
        for _ in range(args.runs):
            for label, argv, _target in commands:
                times[label].append(run_once(argv, env))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    base = statistics.median(times[commands[0][0]])
    print(f"\n{args.runs} runs each; `bedside` is: {' '.join(bedside)}")
    print(f"question: {args.question!r}; untimed warm-up ask (first use of the data directory): {warm_s:.2f} s")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set, so modules without cached bytecode are compiled on every run")
    heads = (("median s", 10), ("p90 s", 9), ("baseline s", 12), ("/ base", 9), ("- base s", 10), ("target s", 10))
    print(f"\n{'command':<28}" + "".join(f"{h:>{w}}" for h, w in heads) + "  meets target")
    for label, _argv, target in commands:
        med = statistics.median(times[label])
        verdict = "" if target is None else ("yes" if med < target else "NO")
        print(
            f"{label:<28}{med:>10.3f}{p90(times[label]):>9.3f}{base:>12.3f}{med / base:>8.1f}x{med - base:>+10.3f}"
            f"{'-' if target is None else f'{target:.3f}':>10}  {verdict}"
        )


if __name__ == "__main__":
    main()
