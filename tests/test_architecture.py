"""Dependencies point inward: the core never imports web, CLI or database-session frameworks."""

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "bedside"
FORBIDDEN = {
    "model": {"fastapi", "starlette", "jinja2", "click", "typer", "sqlalchemy", "sqlite3", "bedside.web", "bedside.cli",
              "bedside.store", "bedside.index", "bedside.answer", "bedside.ingest", "bedside.editorial"},
    "ingest": {"fastapi", "starlette", "jinja2", "click", "typer", "sqlalchemy", "sqlite3", "bedside.web",
               "bedside.cli", "bedside.store", "bedside.index", "bedside.answer", "bedside.editorial"},
    "index": {"fastapi", "starlette", "jinja2", "click", "typer", "sqlalchemy", "bedside.web", "bedside.cli",
              "bedside.answer", "bedside.editorial"},
    "answer": {"fastapi", "starlette", "jinja2", "click", "typer", "sqlalchemy", "sqlite3", "bedside.web",
               "bedside.cli", "bedside.store", "bedside.editorial"},
    "store": {"fastapi", "starlette", "jinja2", "click", "typer", "bedside.web", "bedside.cli", "bedside.answer"},
}  # fmt: skip


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_layers_do_not_import_outward():
    problems = []
    for part, banned in FORBIDDEN.items():
        files = [SRC / f"{part}.py"] if (SRC / f"{part}.py").exists() else sorted((SRC / part).rglob("*.py"))
        if part in ("model", "ingest", "store"):
            assert files, part
        for path in files:
            for name in _imports(path):
                if any(name == b or name.startswith(b + ".") for b in banned):
                    problems.append(f"{path.relative_to(SRC)} imports {name}")
    assert problems == []
