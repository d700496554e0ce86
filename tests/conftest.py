from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(autouse=True)
def _fast_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests use the deterministic hashing embedder unless they test the real model explicitly."""
    monkeypatch.setenv("BEDSIDE_EMBEDDER", "hashing")


@pytest.fixture(scope="session")
def starter_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the starter knowledge base loaded (built once per test session)."""
    from bedside import Bedside
    from bedside.config import load_settings

    path = tmp_path_factory.mktemp("starter") / "data"
    old = os.environ.get("BEDSIDE_EMBEDDER")
    os.environ["BEDSIDE_EMBEDDER"] = "hashing"
    try:
        with Bedside(settings=load_settings(data_dir=path, starter_kb=True)) as b:
            report = b.ensure_starter_kb()
            assert report is not None and report.ok, report
    finally:
        if old is None:
            os.environ.pop("BEDSIDE_EMBEDDER", None)
        else:
            os.environ["BEDSIDE_EMBEDDER"] = old
    return path


@pytest.fixture
def starter(starter_data: Path, tmp_path: Path):
    """A private copy of the starter data directory, opened."""
    from bedside import Bedside

    path = tmp_path / "data"
    shutil.copytree(starter_data, path)
    b = Bedside(data_dir=path, starter_kb=True)
    yield b
    b.close()


# -- PostgreSQL server: BEDSIDE_TEST_POSTGRES_URL, or a throwaway local cluster; CI=true fails without one ---------


def _postgres_bindir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _no_postgres(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true needs PostgreSQL: {reason}; set BEDSIDE_TEST_POSTGRES_URL or install postgresql")
    pytest.skip(f"no PostgreSQL: {reason}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL URL for this session: the given one, or a throwaway local cluster."""
    if os.environ.get("BEDSIDE_TEST_POSTGRES_URL"):
        yield os.environ["BEDSIDE_TEST_POSTGRES_URL"]
        return
    bindir = _postgres_bindir()
    if bindir is None:
        _no_postgres("no server binaries found (apt-get install postgresql)")
        return
    root = Path(tempfile.mkdtemp(prefix="bedside-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres system user
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            _no_postgres("running as root and there is no postgres system user")
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    settings = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    try:
        subprocess.run(
            [
                *run_as,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o", settings, "start"],
            check=True,
            capture_output=True,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        _no_postgres(f"could not start a cluster: {exc.stderr.decode(errors='replace')[-500:]}")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A URL whose connections see only a fresh schema of their own."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = sa.make_url(postgres_server).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()
