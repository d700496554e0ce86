import json
import sqlite3
import subprocess
import sys
from contextlib import closing

import click
import pytest
from click.testing import CliRunner

import bedside
from bedside.cli import COMMANDS, main


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("BEDSIDE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BEDSIDE_STARTER_KB", "false")
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_ingest_stats_remove(run, fixtures, tmp_path):
    result = run("ingest", str(fixtures / "medline" / "pubmed_efetch.xml"))
    assert result.exit_code == 0, result.output
    assert "4 added, 0 updated, 0 unchanged, 0 failed" in result.output
    # ingest leaves the dense search snapshot built for its changes, so the next search need not build it
    (meta,) = (tmp_path / "data" / "vectors").glob("snapshot-*.npz")
    with closing(sqlite3.connect(meta.parent / "vectors.sqlite")) as db:
        (watermark,) = db.execute("SELECT value FROM meta WHERE key = 'watermark'").fetchone()
    assert int(watermark) > 0 and meta.name == f"snapshot-{watermark}.npz"
    result = run("stats", "--json")
    data = json.loads(result.output)
    assert data["documents"] == 4 and data["by_type"]["guideline"] == 1
    assert run("remove", "90000003").exit_code == 0
    assert json.loads(run("stats", "--json").output)["documents"] == 3
    result = run("remove", "90000003")
    assert result.exit_code == 1 and "no document with id '90000003'" in result.output


def test_failures_exit_non_zero_and_name_the_file(run, fixtures):
    result = run("ingest", str(fixtures / "medline" / "truncated.xml"), str(fixtures / "markdown" / "digest.md"))
    assert result.exit_code == 1
    assert "1 added" in result.output
    assert "truncated.xml:" in result.output and "malformed XML" in result.output


def test_bad_option_values_are_refused(run, fixtures):
    result = run("ingest", "--type", "blog", str(fixtures / "markdown" / "digest.md"))
    assert result.exit_code == 2 and "unknown evidence type 'blog'" in result.output
    result = run("ingest", "--format", "docx", str(fixtures / "markdown" / "digest.md"))
    assert result.exit_code == 2


def test_the_listing_in_help_matches_each_commands_own_help():
    # `bedside --help` lists the commands from summaries kept in bedside/cli/__init__.py, without importing them
    ctx = click.Context(main)
    assert set(COMMANDS) == set(main.list_commands(ctx))
    for name, (_module, _attribute, summary) in COMMANDS.items():
        command = main.get_command(ctx, name)
        assert command is not None and command.help is not None
        assert command.help.split("\n\n")[0] == summary, name


def test_help_and_version_import_nothing_heavy():
    code = (
        "import sys\n"
        "from bedside.cli import main\n"
        "for args in (['--help'], ['--version']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('bedside.facade', 'bedside.config', 'numpy', 'pydantic', 'sqlalchemy', 'rich', 'fastapi')\n"
        "print('imported:', *sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands:" in result.stdout and "bedside, version " in result.stdout
    assert result.stdout.splitlines()[-1] == "imported:"


def test_bedside_is_importable_from_the_package():
    from bedside import Bedside
    from bedside.facade import Bedside as FromEngine

    assert Bedside is FromEngine
    with pytest.raises(AttributeError):
        _ = bedside.NoSuchThing
