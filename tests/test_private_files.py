"""Data files and backups are their owner's alone (directories 0700, files 0600), whatever the umask, and a restore
writes only the files a backup holds, never a path its manifest chooses."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from bedside import Bedside
from bedside.config import load_settings
from bedside.editorial.desk import SqlArticleService
from bedside.errors import InvalidInput
from bedside.ops.backup import backup, restore


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    old = os.umask(0o022)  # the usual umask: files would be 0644, directories 0755
    try:
        data = tmp_path / "data"
        settings = load_settings(data_dir=data, starter_kb=False, embedder="hashing")
        with Bedside(settings=settings) as b:
            b.conversations.new("2026-12-06")
        with SqlArticleService(settings.resolved_database_url) as service:
            service.add_user("ann@example.org", "admin", "ann-password-long")
            service.sessions.create("ann@example.org")
    finally:
        os.umask(old)
    return data


def test_the_data_directory_and_its_databases_are_private(data: Path) -> None:
    assert _mode(data) == 0o700
    for name in ("knowledge.sqlite", "bedside.db", "conversations.sqlite", "audit_key"):
        assert _mode(data / name) == 0o600, name
    for companion in data.glob("*-wal"):
        assert _mode(companion) == 0o600, companion.name


def test_files_left_open_to_others_are_narrowed_on_open(data: Path) -> None:
    os.chmod(data, 0o755)
    os.chmod(data / "knowledge.sqlite", 0o644)
    os.chmod(data / "bedside.db", 0o664)
    with Bedside(settings=load_settings(data_dir=data, starter_kb=False, embedder="hashing")):
        pass
    SqlArticleService(f"sqlite:///{data / 'bedside.db'}").close()
    assert (_mode(data), _mode(data / "knowledge.sqlite"), _mode(data / "bedside.db")) == (0o700, 0o600, 0o600)


def test_backups_are_private(data: Path, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        report = backup(load_settings(data_dir=data, starter_kb=False), tmp_path / "copy")
    finally:
        os.umask(old)
    assert "audit_key" in report.copied and "bedside.db" in report.copied
    assert _mode(tmp_path / "copy") == 0o700
    for path in (tmp_path / "copy").rglob("*"):
        if path.is_file():
            assert _mode(path) == 0o600, path.name
    restored = load_settings(data_dir=tmp_path / "restored", starter_kb=False)
    restore(tmp_path / "copy", restored)
    assert _mode(tmp_path / "restored") == 0o700 and _mode(tmp_path / "restored" / "bedside.db") == 0o600
    assert _mode(tmp_path / "restored" / "audit_key") == 0o600


@pytest.mark.parametrize("name", ["../escaped.sqlite", "ABSOLUTE", "vectors/../../escaped", "notes.txt"])
def test_restore_refuses_names_a_backup_never_holds(data: Path, tmp_path: Path, name: str) -> None:
    backup(load_settings(data_dir=data, starter_kb=False), tmp_path / "copy")
    manifest = tmp_path / "copy" / "backup.json"
    content = json.loads(manifest.read_text())
    content["copied"].append(str(tmp_path / "escaped.sqlite") if name == "ABSOLUTE" else name)
    manifest.write_text(json.dumps(content))
    target = tmp_path / "target" / "data"
    with pytest.raises(InvalidInput, match="names files a backup never holds"):
        restore(tmp_path / "copy", load_settings(data_dir=target, starter_kb=False))
    assert not (tmp_path / "target").exists()  # nothing was written anywhere
