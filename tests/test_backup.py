"""`bedside backup` while another process ingests and approves; `bedside restore` of each copy passes every check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bedside import Bedside
from bedside.cli import main
from bedside.config import load_settings
from bedside.editorial.desk import SqlArticleService
from bedside.editorial.interface import Role
from bedside.errors import InvalidInput
from bedside.ops.backup import backup, restore
from bedside.ops.integrity import check_data

pytestmark = pytest.mark.slow

# Ingests a new file of documents and approves one claimed article per round, printing the time of each commit.
WRITER = r"""
import json, sys, time
from pathlib import Path
from bedside import Bedside
from bedside.text.slugs import slug_for
from bedside.editorial.desk import SqlArticleService
data, rounds = Path(sys.argv[1]), int(sys.argv[2])
with Bedside(data_dir=data, starter_kb=False) as b, SqlArticleService(f"sqlite:///{data / 'bedside.db'}") as s:
    rita = s.get_user("rita@example.org")
    for r in range(rounds):
        path = data.parent / f"more-{r}.jsonl"
        with path.open("w") as out:
            for i in range(25):
                text = f"Round {r} note {i}: oral iron and intravenous cobalamin dosing in adults."
                out.write(json.dumps({"id": f"w{r}-{i}", "title": f"W {r} {i}", "text": text * 3}) + "\n")
        b.ingest([path])
        print(time.monotonic(), flush=True)
        s.review(slug_for(f"What is question number {r}?"), "approve", rita)
        print(time.monotonic(), flush=True)
"""


def _seed(data: Path, rounds: int) -> None:
    """A knowledge base, and `rounds` articles claimed by rita (one approved per writer round)."""
    corpus = data.parent / "seed.jsonl"
    with corpus.open("w") as out:
        for i in range(300):
            text = f"Document {i} on ferritin thresholds and oral iron dosing. " * 4
            out.write(json.dumps({"id": f"s{i}", "title": f"Seed {i}", "text": text}) + "\n")
    with Bedside(data_dir=data, starter_kb=False) as b:
        assert b.ingest([corpus]).ok
    with SqlArticleService(f"sqlite:///{data / 'bedside.db'}") as service:
        rita = service.add_user("rita@example.org", Role.REVIEWER, "rita-password-long")[0]
        for r in range(rounds):
            slug = service.article_for(f"What is question number {r}?", lambda: {"title": "t"}, {}).slug
            service.review(slug, "claim", rita)


def test_backups_taken_under_concurrent_writes_restore_consistently(tmp_path: Path) -> None:
    data, rounds = tmp_path / "data", 30
    _seed(data, rounds)
    settings = load_settings(data_dir=data, starter_kb=False)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data), str(rounds)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, BEDSIDE_EMBEDDER="hashing"),
    )
    assert writer.stdout is not None
    writer.stdout.readline()  # the first commit: writes are under way
    windows = []
    for n in range(6):
        began = time.monotonic()
        backup(settings, tmp_path / f"backup-{n}")
        windows.append((began, time.monotonic()))
        time.sleep(0.2)
    commits = [float(line) for line in writer.stdout]
    assert writer.wait(timeout=120) == 0
    writer.stdout.close()
    during = sum(1 for t in commits if windows[0][0] <= t <= windows[-1][1])
    print(f"\n{len(commits) + 1} writer commits, {during} while the 6 backups ran")
    assert during >= 3, "the writer finished before the backups; nothing ran concurrently"
    approved = []
    for n in range(6):
        restored = load_settings(data_dir=tmp_path / f"restored-{n}", starter_kb=False)
        restore(tmp_path / f"backup-{n}", restored)
        findings = check_data(restored)
        assert all(f.ok for f in findings), [f for f in findings if not f.ok]
        with SqlArticleService(restored.resolved_database_url) as service:
            approved.append(
                len(service.list(limit=rounds))
                and sum(1 for a in service.list(limit=rounds) if a.status.value == "approved")
            )
    assert approved == sorted(approved) and approved[-1] > approved[0]  # later copies hold more approvals


def test_restore_refuses_a_used_data_directory_and_a_damaged_backup(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _seed(data, 1)
    settings = load_settings(data_dir=data, starter_kb=False)
    result = CliRunner().invoke(
        main,
        ["--data-dir", str(data), "backup", str(tmp_path / "copy")],
        env={"BEDSIDE_STARTER_KB": "false", "BEDSIDE_DATABASE_URL": ""},
    )
    assert result.exit_code == 0, result.output
    assert "lexical index is not copied" in result.output
    with pytest.raises(InvalidInput, match="already holds a knowledge base"):
        restore(tmp_path / "copy", settings)
    with pytest.raises(InvalidInput, match="is not empty"):
        backup(settings, tmp_path / "copy")
    damaged = tmp_path / "copy" / "knowledge.sqlite"
    raw = bytearray(damaged.read_bytes())
    for page in range(4096, len(raw), 4096):  # scribble over every page header after the first
        raw[page : page + 64] = os.urandom(64)
    damaged.write_bytes(bytes(raw))
    with pytest.raises(InvalidInput, match=r"damaged: .*knowledge.sqlite"):
        restore(tmp_path / "copy", load_settings(data_dir=tmp_path / "other", starter_kb=False))


def test_a_postgres_article_database_is_left_to_pg_dump(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _seed(data, 0)
    url = "postgresql://bedside:pw@db.example.org/bedside"
    report = backup(load_settings(data_dir=data, database_url=url), tmp_path / "copy")
    assert "bedside.db" not in report.copied and "knowledge.sqlite" in report.copied
    assert any("NOT in this backup" in n and "pg_dump" in n and "pw" not in n for n in report.notes)


def _populate(data: Path) -> None:
    """A data directory holding every kind of file bedside writes: documents and vectors (with the sentence cache of
    the rerank), a conversation, a harvest log, articles with their audit key, and the cookie key."""
    from bedside.pubmed.harvest import HarvestLog
    from bedside.web.sessions import secret_key

    _seed(data, 1)
    settings = load_settings(data_dir=data, starter_kb=False, embedder="hashing")
    with Bedside(settings=settings) as b:
        b.ask("What is the oral iron dosing in adults?")
    log = HarvestLog(data / "pubmed" / "harvest.sqlite")
    log.mark("ferritin", ["123"])
    log.close()
    secret_key(settings)


def test_one_list_of_data_files_backs_up_and_restores_every_file_the_check_knows(tmp_path: Path) -> None:
    from bedside.ops.integrity import sqlite_files
    from bedside.store.datafiles import DATA_FILES

    data = tmp_path / "data"
    _populate(data)
    settings = load_settings(data_dir=data, starter_kb=False, embedder="hashing")
    held = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()}
    derived = {
        n for n in held if n.startswith(("lexical/", "vectors/snapshot-")) or n.endswith(("-wal", "-shm", ".lock"))
    }
    assert held - derived == {f.name for f in DATA_FILES}  # nothing written that the list does not declare
    checked = {p.relative_to(data).as_posix() for p in sqlite_files(settings)}
    assert checked == {f.name for f in DATA_FILES if f.kind != "key"}
    report = backup(settings, tmp_path / "copy")
    assert sorted(report.copied) == sorted(f.name for f in DATA_FILES)
    restored = load_settings(data_dir=tmp_path / "restored", starter_kb=False, embedder="hashing")
    restore(tmp_path / "copy", restored)
    assert {p.relative_to(restored.data_dir).as_posix() for p in sqlite_files(restored)} == checked
    for item in DATA_FILES:
        assert (restored.data_dir / item.name).is_file(), item.name
    findings = check_data(restored)
    assert all(f.ok for f in findings), [f for f in findings if not f.ok]
    # A backup made by an earlier release also holds its sessions file: restored without it (sign in again).
    manifest = json.loads((tmp_path / "copy" / "backup.json").read_text())
    (tmp_path / "copy" / "sessions.db").write_bytes((tmp_path / "copy" / "conversations.sqlite").read_bytes())
    manifest["copied"].append("sessions.db")
    (tmp_path / "copy" / "backup.json").write_text(json.dumps(manifest))
    older = load_settings(data_dir=tmp_path / "restored-older", starter_kb=False, embedder="hashing")
    assert "sessions.db" not in restore(tmp_path / "copy", older).copied
    assert not (older.data_dir / "sessions.db").exists() and (older.data_dir / "knowledge.sqlite").exists()
