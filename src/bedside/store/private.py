"""Files only their owner may read: the data directory (0700) and the databases in it (0600).

The article database holds password and token hashes, the sessions file session hashes and CSRF tokens, the
conversations file what clinicians asked: none is for other accounts on the machine, whatever the umask. A
database file is created 0600 before SQLite opens it (SQLite gives its -wal and -shm files the same mode), and an
existing one is narrowed to 0600 when opened.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

__all__ = ["private_dir", "private_file", "secret_file"]


def private_dir(path: Path) -> Path:
    """Make `path` (and missing parents) a directory only its owner may enter; narrow it when it is wider."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    _narrow(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 when missing; narrow it to 0600 when it is wider. Returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    _narrow(path, 0o600)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _narrow(companion, 0o600)
    return path


def secret_file(path: Path, make: Callable[[], str]) -> Path:
    """Create `path` (mode 0600) holding the secret `make()` gives, when missing; safe when two processes race (the
    first file written wins, never replaced). Returns `path`."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(make() + "\n")
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(draft, path)  # atomic, and never replaces a key another process wrote first
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path


def _narrow(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):  # not ours to change (another owner, a read-only mount): leave it
        if stat.S_IMODE(path.stat().st_mode) & ~mode:
            os.chmod(path, stat.S_IMODE(path.stat().st_mode) & mode)
