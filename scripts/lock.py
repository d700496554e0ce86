"""constraints.txt: the exact versions a new install and CI get, resolved from pyproject.toml's ranges.

    python scripts/lock.py            # resolve afresh (every extra) and write constraints.txt; `make lock` runs it
    python scripts/lock.py --verify   # print the installed versions; exit 1 where one differs from the lock

The README's commands and .ci/run install with `-c constraints.txt`, so a new machine gets what CI tested on any
day, while pyproject.toml keeps version ranges for those who embed bedside as a library. The lock's header records a
digest of pyproject.toml's dependency tables; tests/test_lock.py fails when the two disagree. Resolution uses pip's
own resolver (`pip install --dry-run --report`) for the running interpreter and platform: CPython 3.11 on Linux.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "constraints.txt"
DIGEST_KEY = "# pyproject-dependencies-sha256: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def canonical(name: str) -> str:
    """A distribution name as the package index compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_digest(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """SHA-256 of what the lock is resolved from: requires-python, dependencies and every extra."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    tables = {key: project.get(key) for key in ("requires-python", "dependencies", "optional-dependencies")}
    return hashlib.sha256(json.dumps(tables, sort_keys=True).encode()).hexdigest()


def read_lock(path: Path = LOCK) -> tuple[str | None, dict[str, str]]:
    """(the recorded pyproject digest, {canonical name: version})."""
    digest, pins = None, {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(DIGEST_KEY):
            digest = line[len(DIGEST_KEY) :].strip()
        elif m := _PIN.match(line.strip()):
            pins[canonical(m.group(1))] = m.group(2)
    return digest, pins


def resolve() -> dict[str, str]:
    """Resolve bedside with every extra on an empty environment; {name: version}, bedside itself left out."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = ",".join(sorted(project.get("optional-dependencies", {})))
    env = {k: v for k, v in os.environ.items() if k != "PIP_CONSTRAINT"}
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--dry-run",
                "--ignore-installed",
                "--isolated",
                "--report",
                str(report),
                f"{ROOT}[{extras}]",
            ],
            check=True,
            env=env,
        )
        items = json.loads(report.read_text(encoding="utf-8"))["install"]
    pins = {item["metadata"]["name"]: item["metadata"]["version"] for item in items}
    pins.pop("bedside", None)
    pins["pip"] = metadata.version("pip")
    return dict(sorted(pins.items(), key=lambda kv: canonical(kv[0])))


def write(pins: dict[str, str]) -> None:
    head = [
        "# The exact versions bedside is tested with (CPython 3.11, Linux), every extra included, pip too.",
        '# Install with: pip install -c constraints.txt -e ".[dense]"   Refresh with: make lock',
        f"{DIGEST_KEY}{dependency_digest()}",
    ]
    LOCK.write_text("\n".join([*head, *(f"{name}=={version}" for name, version in pins.items())]) + "\n")


def verify() -> int:
    """Print every locked distribution that is installed with its version; 1 if any differs from the lock."""
    _, pins = read_lock()
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = 0
    for name, version in pins.items():
        have = installed.get(name)
        if have is None:
            continue
        mark = "" if have == version else f"   <- locked {version}"
        wrong += bool(mark)
        print(f"{name}=={have}{mark}")
    print(f"{sum(n in installed for n in pins)} locked distributions installed, {wrong} at another version")
    return 1 if wrong else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--verify", action="store_true", help="compare the installed versions with the lock")
    args = p.parse_args()
    if args.verify:
        return verify()
    pins = resolve()
    write(pins)
    print(f"wrote {len(pins)} pins to {LOCK.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
