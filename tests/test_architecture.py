"""Dependencies point inward: each part of bedside imports only the parts it is allowed to (docs: architecture.md).

Every module under src/bedside belongs to exactly one part. A part lists the bedside modules it may import (an
entry names a package or a module, with everything below it); any other bedside import is a violation, whether
at the top of a module, inside a function or under TYPE_CHECKING. The core (model, text, answer) is pure: no web
or CLI framework, no SQL and no HTTP, so it is fast to test and runs anywhere.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"
PACKAGE = SRC / "bedside"

# Shared by every part: the error types (mapped to exit codes and HTTP statuses at the edges) and the package
# itself (`from bedside import __version__`).
SHARED = ("bedside.errors",)

# part -> (the modules it is made of, the bedside modules it may import besides its own and SHARED)
PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "errors": (("bedside.errors",), ()),
    "model": (("bedside.model",), ()),
    "text": (("bedside.text",), ()),
    "config": (("bedside.config",), ()),
    "ingest": (("bedside.ingest",), ("bedside.model", "bedside.text")),
    # the index's vector files are guarded by the store's advisory file lock (one writer per host), and its SQLite
    # files are opened the one way bedside opens SQLite (store.sqlite: PRAGMAs, versioned migrations)
    "index": (("bedside.index",), ("bedside.model", "bedside.text", "bedside.store.locks", "bedside.store.sqlite")),
    # the composers see the index only through its protocols
    "answer": (("bedside.answer",), ("bedside.model", "bedside.text", "bedside.index.protocols")),
    "store": (("bedside.store",), ("bedside.model", "bedside.config")),
    "editorial": (
        ("bedside.editorial",),
        (
            "bedside",
            "bedside.model",
            "bedside.text",
            "bedside.config",
            "bedside.store.article_db",
            "bedside.store.sqlite",
            "bedside.store.private",
        ),
    ),
    # ingestion into the store, with the indexes kept in step
    "knowledge": (("bedside.knowledge",), ("bedside.model", "bedside.ingest", "bedside.index", "bedside.store")),
    # the HTTP client of OpenAI-compatible chat endpoints, behind answer's ChatClient protocol
    "llm client": (("bedside.llm_client",), ("bedside.index.endpoint",)),
    # `Bedside`, the one object users, the CLI, the web app and benchmarks drive
    "facade": (
        ("bedside.facade", "bedside.reading", "bedside.search_backends"),
        (
            "bedside",
            "bedside.model",
            "bedside.text",
            "bedside.config",
            "bedside.ingest",
            "bedside.index",
            "bedside.answer",
            "bedside.store",
            "bedside.knowledge",
            "bedside.llm_client",
            "bedside.starter_kb",
        ),
    ),
    "starter kb": (("bedside.starter_kb",), ("bedside", "bedside.config", "bedside.index", "bedside.facade")),
    "pubmed": (("bedside.pubmed",), ("bedside.model", "bedside.ingest", "bedside.knowledge", "bedside.store.sqlite")),
    "cds": (("bedside.cds",), ("bedside.model", "bedside.text")),
    # a face like the web app: it shows answers in their public form (web.views)
    "mcp server": (
        ("bedside.mcp_server",),
        ("bedside.model", "bedside.editorial.interface", "bedside.facade", "bedside.web.views"),
    ),
    "ops": (
        ("bedside.ops",),
        (
            "bedside",
            "bedside.model",
            "bedside.config",
            "bedside.store",
            "bedside.editorial",
            "bedside.index",
            "bedside.facade",
        ),
    ),
    "web": (
        ("bedside.web",),
        (
            "bedside",
            "bedside.model",
            "bedside.text",
            "bedside.config",
            "bedside.index",
            "bedside.answer",
            "bedside.editorial",
            "bedside.store",
            "bedside.facade",
            "bedside.starter_kb",
            "bedside.cds",
            "bedside.mcp_server",
        ),
    ),
    "cli": (
        ("bedside.cli",),
        (
            "bedside",
            "bedside.model",
            "bedside.text",
            "bedside.config",
            "bedside.ingest",
            "bedside.index",
            "bedside.answer",
            "bedside.editorial",
            "bedside.store",
            "bedside.knowledge",
            "bedside.facade",
            "bedside.pubmed",
            "bedside.mcp_server",
            "bedside.ops",
            "bedside.web",
        ),
    ),
    # the package: `from bedside import Bedside` and `python -m bedside`
    "package": (("bedside.__init__", "bedside.__main__"), ("bedside.facade", "bedside.cli")),
    "data": (("bedside.data",), ()),
}

WEB_FRAMEWORKS = ("fastapi", "starlette", "jinja2", "uvicorn", "multipart", "itsdangerous")
CLI_FRAMEWORKS = ("click", "typer", "rich")
SQL = ("sqlalchemy", "alembic", "sqlite3", "psycopg", "psycopg2", "pymilvus")
HTTP = ("http", "httpx", "httpx_sse", "requests", "urllib3", "aiohttp", "socket", "urllib.request", "openai", "mcp")
# part -> third-party (and standard library) modules it must not import
BANNED: dict[str, tuple[str, ...]] = {
    "model": WEB_FRAMEWORKS + CLI_FRAMEWORKS + SQL + HTTP,
    "text": WEB_FRAMEWORKS + CLI_FRAMEWORKS + SQL + HTTP,
    "answer": WEB_FRAMEWORKS + CLI_FRAMEWORKS + SQL + HTTP,
    "ingest": WEB_FRAMEWORKS + CLI_FRAMEWORKS + SQL + HTTP,
    "index": WEB_FRAMEWORKS + CLI_FRAMEWORKS + ("sqlalchemy", "alembic"),
    "store": WEB_FRAMEWORKS + CLI_FRAMEWORKS,
    "editorial": WEB_FRAMEWORKS + CLI_FRAMEWORKS,
    "knowledge": WEB_FRAMEWORKS + CLI_FRAMEWORKS,
    "facade": WEB_FRAMEWORKS + CLI_FRAMEWORKS,
    "config": WEB_FRAMEWORKS + CLI_FRAMEWORKS + SQL + HTTP,
    "web": CLI_FRAMEWORKS,
}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(SRC).with_suffix("").parts)


def _is_module(name: str) -> bool:
    base = SRC.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, wherever the import statement is; `from pkg import sub` counts as pkg.sub."""
    package = _module_name(path).rpartition(".")[0]  # a package's own module is named pkg.__init__
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            subs = {f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}")}
            names.update(subs or {base})
    return names


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _part_of(module: str) -> str | None:
    """The part whose longest listed prefix covers `module`."""
    best: tuple[int, str | None] = (-1, None)
    for part, (members, _) in PARTS.items():
        for prefix in members:
            if _within(module, (prefix,)) and len(prefix) > best[0]:
                best = (len(prefix), part)
    return best[1]


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_part():
    assert _modules()
    orphans = [_module_name(p) for p in _modules() if _part_of(_module_name(p)) is None]
    assert orphans == [], f"add these modules to a part in PARTS: {orphans}"


def test_every_part_has_modules():
    parts = {_part_of(_module_name(p)) for p in _modules()}
    assert set(PARTS) - parts == set()


def test_parts_import_only_what_they_may():
    problems = []
    for path in _modules():
        module = _module_name(path)
        part = _part_of(module)
        assert part is not None, module
        members, allowed = PARTS[part]
        for name in sorted(_imports(path)):
            if name != "bedside" and not name.startswith("bedside."):
                continue
            if name == "bedside":
                if part != "package" and "bedside" not in allowed:
                    problems.append(f"{module} ({part}) imports the bedside package")
                continue
            if not _within(name, members + SHARED + tuple(a for a in allowed if a != "bedside")):
                problems.append(f"{module} ({part}) imports {name}")
    assert problems == []


def test_parts_keep_clear_of_frameworks():
    problems = []
    for path in _modules():
        module = _module_name(path)
        banned = BANNED.get(_part_of(module) or "", ())
        problems += [f"{module} imports {name}" for name in sorted(_imports(path)) if _within(name, banned)]
    assert problems == []


def test_no_two_modules_share_a_file_name():
    seen: dict[str, list[str]] = {}
    for path in _modules():
        if path.name not in ("__init__.py", "__main__.py"):
            seen.setdefault(path.name, []).append(str(path.relative_to(PACKAGE)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}


def test_the_import_walk_sees_every_import():
    """Imports inside functions count, `from pkg import module` names the module, and parts cover by prefix."""
    found = _imports(PACKAGE / "answer" / "render.py")
    assert "bedside.model" in found and "bedside.answer.audience" in found  # the second inside a function
    assert "bedside.text.sentences" in _imports(PACKAGE / "answer" / "readability.py")  # from bedside.text import ...
    assert _part_of("bedside.answer.render") == "answer" and _part_of("bedside.text.__init__") == "text"
    assert _part_of("bedside.nowhere") is None


def test_no_module_is_over_400_lines():
    """A module that grows past 400 lines holds more than one concern: split it by concern."""
    long = {str(p.relative_to(PACKAGE)): n for p in _modules() if (n := len(p.read_text("utf-8").splitlines())) > 400}
    assert long == {}


def test_the_formatter_owns_layout():
    """No formatter opt-outs: code reads the same everywhere, however it was aligned when written."""
    roots = (SRC, SRC.parent / "tests", SRC.parent / "bench", SRC.parent / "scripts")
    marker = "fmt: " + "skip"  # spelled apart so this file does not match itself
    skipped = [str(p) for root in roots for p in root.rglob("*.py") if marker in p.read_text("utf-8")]
    assert skipped == []
