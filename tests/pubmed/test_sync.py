"""`bedside pubmed sync DIR`: baseline then update files in order, MD5-checked, DeleteCitation applied, resumable
and a no-op when current."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from click.testing import CliRunner
from ncbi_fake import HEAD, medline_records

from bedside import Bedside
from bedside.cli import main
from bedside.pubmed.sync import distribution_files, sync_distribution


def write(folder: Path, name: str, body: str, *, md5: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(gzip.compress(body.encode(), mtime=0))
    digest = md5 or hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    (folder / f"{name}.md5").write_text(f"MD5({name})= {digest}\n", encoding="ascii")
    return path


def distribution(root: Path) -> None:
    r = medline_records()
    write(root / "baseline", "pubmed25n0001.xml.gz", HEAD + r["91000001"] + r["91000002"] + "</PubmedArticleSet>\n")
    write(root / "baseline", "pubmed25n0002.xml.gz", HEAD + r["91000003"] + "</PubmedArticleSet>\n")
    revised = r["91000003"].replace("in 8% of adults", "in 9% of adults")
    update = (
        HEAD
        + revised
        + r["91000009"]
        + '<DeleteCitation><PMID Version="1">91000002</PMID><PMID Version="1">99999999</PMID></DeleteCitation>\n'
        + "</PubmedArticleSet>\n"
    )
    write(root / "updatefiles", "pubmed25n0003.xml.gz", update)


def test_files_are_applied_in_order_with_deletions_then_the_sync_is_a_no_op(tmp_path: Path) -> None:
    root = tmp_path / "medline"
    distribution(root)
    assert [f.name for f in distribution_files(root)] == [
        "pubmed25n0001.xml.gz",
        "pubmed25n0002.xml.gz",
        "pubmed25n0003.xml.gz",
    ]
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:
        seen: list[str] = []
        report = sync_distribution(b.kb, root, progress=lambda name, done, total: seen.append(name))
        assert report.applied == ["pubmed25n0001.xml.gz", "pubmed25n0002.xml.gz", "pubmed25n0003.xml.gz"]
        assert seen[:3] == report.applied and report.problems == []
        assert (report.ingest.added, report.ingest.updated, report.deleted) == (4, 1, 1)
        assert sorted(b.store.document_ids()) == ["91000001", "91000003", "91000009"]
        assert "in 9% of adults" in b.store.document("91000003").text  # the update's version won

        again = sync_distribution(b.kb, root)
        assert (again.applied, again.skipped, again.ingest.added, again.deleted) == ([], 3, 0, 0)


def test_a_bad_md5_stops_the_sync_there_and_a_re_run_resumes(tmp_path: Path) -> None:
    root = tmp_path / "medline"
    r = medline_records()
    write(root, "pubmed25n0001.xml.gz", HEAD + r["91000001"] + "</PubmedArticleSet>\n")
    write(root, "pubmed25n0002.xml.gz", HEAD + r["91000003"] + "</PubmedArticleSet>\n", md5="0" * 32)
    write(root, "pubmed25n0003.xml.gz", HEAD + r["91000009"] + "</PubmedArticleSet>\n")
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:
        report = sync_distribution(b.kb, root)
        assert report.applied == ["pubmed25n0001.xml.gz"]
        assert len(report.problems) == 1 and "does not match the published" in report.problems[0]
        assert b.store.document_ids() == ["91000001"]  # nothing after the bad file
        write(root, "pubmed25n0002.xml.gz", HEAD + r["91000003"] + "</PubmedArticleSet>\n")  # a good download
        resumed = sync_distribution(b.kb, root)
        assert resumed.applied == ["pubmed25n0002.xml.gz", "pubmed25n0003.xml.gz"] and resumed.skipped == 1
        (root / "pubmed25n0003.xml.gz.md5").unlink()
        write(root, "pubmed25n0004.xml.gz", HEAD + r["91000005"] + "</PubmedArticleSet>\n")
        (root / "pubmed25n0004.xml.gz.md5").unlink()
        missing = sync_distribution(b.kb, root)
        assert missing.applied == [] and "no pubmed25n0004.xml.gz.md5 beside it" in missing.problems[0]


def test_the_sync_command(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BEDSIDE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BEDSIDE_STARTER_KB", "false")
    root = tmp_path / "medline"
    distribution(root)
    runner = CliRunner()
    first = runner.invoke(main, ["pubmed", "sync", str(root)])
    assert first.exit_code == 0, first.output
    assert "3 file(s) applied, 0 already applied: 4 added, 1 updated, 1 deleted" in first.stdout
    second = runner.invoke(main, ["pubmed", "sync", str(root), "--json"])
    assert second.exit_code == 0 and json.loads(second.stdout)["applied"] == []
    bad = runner.invoke(main, ["pubmed", "sync", str(tmp_path / "nowhere")])
    assert bad.exit_code != 0 and "not a folder" in " ".join(bad.output.split())
