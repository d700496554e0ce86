"""The one way bedside opens an SQLite file: connection settings, versioned schemas, transactions, checks, copies.

Every SQLite database of a data directory declares its schema as a `Schema`: a numbered list of steps, step N
bringing the file from version N-1 to N. The version a file has reached is kept in its header
(`PRAGMA user_version`), or for the knowledge store in its `meta` table (where it always was, as in the
PostgreSQL store), so opening a file applies exactly the steps it lacks, all in one transaction; a file
written by a newer bedside (a higher version than the code knows) is refused with an error naming it, never
opened and half-understood.

Files written before schemas were versioned have tables but version 0. Each schema's `adopt` brings such a file to
version 1 by adding what it lacks (its tables were made with CREATE ... IF NOT EXISTS and grown column by column,
and different releases grew them in different orders, so what a file holds is the only reliable guide).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bedside.errors import InvalidInput
from bedside.store.private import private_file

__all__ = [
    "Schema",
    "SchemaTooNew",
    "Step",
    "add_missing_columns",
    "connect",
    "copy_snapshot",
    "integrity_problems",
    "migrate",
    "open_as_is",
    "open_database",
    "run_step",
    "schema_version",
    "transaction",
]

# A step: an SQL script (statements separated by ";") or a function given the connection, inside the transaction.
Step = str | Callable[[sqlite3.Connection], None]
Synchronous = Literal["OFF", "NORMAL", "FULL"]


class SchemaTooNew(InvalidInput, RuntimeError):
    """A database file was written by a newer bedside than this one."""


@dataclass(frozen=True, slots=True)
class Schema:
    """A database's schema as numbered steps; `steps[0]` makes version 1 of an empty file."""

    name: str  # what the file holds, for messages ("knowledge store")
    steps: tuple[Step, ...]
    # Brings a file from before versioning (tables present, user_version 0) to version 1; by default step 1 again,
    # which is right when step 1 only creates what is missing (CREATE ... IF NOT EXISTS).
    adopt: Step | None = None
    # Where the version is kept: None for the file header (PRAGMA user_version), else this key of a `meta` table
    # (key TEXT PRIMARY KEY, value TEXT) that step 1 creates.
    meta_key: str | None = None

    @property
    def version(self) -> int:
        """The version this code writes."""
        return len(self.steps)


def connect(
    path: Path,
    *,
    timeout: float = 30,
    wal: bool = True,
    synchronous: Synchronous = "NORMAL",
    foreign_keys: bool = True,
    private: bool = True,
) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit, see `transaction`), usable from any thread.

    WAL lets readers go on while one process writes; `synchronous=NORMAL` with WAL loses at most the last
    transactions on power loss, never consistency; the busy timeout makes a writer wait for another's lock rather
    than fail at once. `private` creates the file readable by its owner only before SQLite opens it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if private:
        private_file(path)
    db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        if wal:
            db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
    except BaseException:
        db.close()
        raise
    return db


def open_database(
    path: Path,
    schema: Schema,
    *,
    timeout: float = 30,
    synchronous: Synchronous = "NORMAL",
    foreign_keys: bool = True,
    private: bool = True,
) -> sqlite3.Connection:
    """`connect` to `path` and bring its schema up to date (SchemaTooNew when the file is newer than the code)."""
    db = connect(path, timeout=timeout, synchronous=synchronous, foreign_keys=foreign_keys, private=private)
    try:
        migrate(db, path, schema)
    except BaseException:
        db.close()
        raise
    return db


def schema_version(db: sqlite3.Connection, schema: Schema) -> int:
    """The schema version the file records (0: none recorded)."""
    if schema.meta_key is None:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key = ?", (schema.meta_key,)).fetchone()
    return int(row[0]) if row is not None else 0


def _record_version(db: sqlite3.Connection, schema: Schema) -> None:
    if schema.meta_key is None:
        db.execute(f"PRAGMA user_version={schema.version}")
    else:
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (schema.meta_key, str(schema.version)))


def migrate(db: sqlite3.Connection, path: Path, schema: Schema) -> None:
    """Apply the steps the file lacks, in one transaction (so a crash or an error leaves the old version whole)."""
    if schema_version(db, schema) == schema.version:  # the usual case: no write lock taken
        return
    with transaction(db):
        found = schema_version(db, schema)  # again under the lock: another process may have migrated meanwhile
        if found > schema.version:
            raise SchemaTooNew(
                f"{path} was written by a newer bedside: its {schema.name} schema is version {found}, this bedside "
                f"knows up to {schema.version}; upgrade bedside, or restore a backup made by this version"
            )
        if found == 0 and schema.meta_key is None and _has_tables(db):
            run_step(db, schema.adopt or schema.steps[0])
            found = 1
        for step in schema.steps[found:]:
            run_step(db, step)
        _record_version(db, schema)


def _has_tables(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").fetchone() is not None


def run_step(db: sqlite3.Connection, step: Step) -> None:
    """Run one step (a script's statements in order, or the function)."""
    if callable(step):
        step(db)
        return
    for statement in step.split(";"):
        if statement.strip():
            db.execute(statement)


def add_missing_columns(db: sqlite3.Connection, table: str, columns: Sequence[tuple[str, str]]) -> list[str]:
    """Add the (name, definition) columns `table` lacks; returns the names added. For `Schema.adopt` only."""
    have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    added = [name for name, _ in columns if name not in have]
    for name, definition in columns:
        if name in added:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")
    return added


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Commit on success, roll back on any error; the write lock is taken at the start (BEGIN IMMEDIATE), so two
    writers never deadlock upgrading a read lock. Nested use joins the outer transaction."""
    if db.in_transaction:
        yield db
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def open_as_is(path: Path, timeout: float = 30) -> sqlite3.Connection:
    """A connection that changes nothing about the file (no schema step, journal mode or other setting): for
    checking, copying, or reading a file an earlier release wrote."""
    return sqlite3.connect(path, timeout=timeout)


def integrity_problems(path: Path) -> list[str]:
    """SQLite's own `PRAGMA integrity_check` of one file, as problems naming the file (none when it is sound).

    Opened as it is: no schema step and no change of journal mode, so a damaged file is reported, not altered."""
    try:
        with closing(open_as_is(path)) as db:
            rows = db.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return [f"{path}: {exc}"]
    return [f"{path}: {r[0]}" for r in rows if r[0] != "ok"]


def copy_snapshot(source: Path, dest: Path) -> None:
    """One committed snapshot of `source` written to `dest` (SQLite's online backup API, all pages in one step,
    while writers carry on), as one self-contained file (rollback journal, not WAL)."""
    with closing(open_as_is(source, timeout=60)) as src, closing(open_as_is(dest)) as out:
        src.backup(out)  # pages=-1: one step, so the copy is a single consistent snapshot
        out.execute("PRAGMA journal_mode=DELETE")
