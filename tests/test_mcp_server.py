"""The MCP server, driven in-process by the official SDK's client: tools, resources, and what they leave out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

from mcp import Client

from bedside import Bedside
from bedside.editorial.desk import SqlArticleService
from bedside.mcp_server import EngineFaces, build_server
from bedside.model import AnswerJSON, StatementJSON

QUESTION = "Is inhaled corticosteroid step-down safe in stable example bronchitis?"


@pytest.fixture
def served(tmp_path: Path, fixtures: Path):
    shutil.copy(fixtures / "medline" / "retractions.xml", tmp_path / "retractions.xml")
    b = Bedside(data_dir=tmp_path / "data", starter_kb=False)
    assert b.ingest([tmp_path / "retractions.xml"]).ok
    articles = SqlArticleService(f"sqlite:///{tmp_path / 'data' / 'bedside.db'}")
    yield build_server(EngineFaces(b, articles)), articles
    articles.close()
    b.close()


def run(server: Any, steps: Any) -> Any:
    async def main() -> Any:
        async with Client(server) as client:
            return await steps(client)

    return anyio.run(main)


def test_tools_are_listed_with_their_schemas(served) -> None:
    server, _ = served

    async def steps(client: Any) -> Any:
        return await client.list_tools()

    tools = {t.name: t for t in run(server, steps).tools}
    assert set(tools) == {"search_evidence", "answer_question", "get_document"}
    assert tools["search_evidence"].input_schema["required"] == ["query"]
    assert "Retracted articles" in tools["search_evidence"].description
    answer_schema = tools["answer_question"].output_schema  # the answer JSON's one model
    assert answer_schema["properties"].keys() == AnswerJSON.model_fields.keys()
    assert answer_schema["$defs"]["StatementJSON"]["properties"].keys() == StatementJSON.model_fields.keys()


def test_search_answer_and_document(served) -> None:
    server, articles = served

    async def steps(client: Any) -> Any:
        hits = await client.call_tool("search_evidence", {"query": "zanthoxin example bronchitis", "limit": 10})
        answer = await client.call_tool("answer_question", {"question": QUESTION})
        again = await client.call_tool("answer_question", {"question": QUESTION, "audience": "patient"})
        doc = await client.call_tool("get_document", {"document_id": "91000001", "length": 30})
        missing = await client.call_tool("get_document", {"document_id": "nope"})
        resource = await client.read_resource("bedside://documents/91000003")
        return hits, answer, again, doc, missing, resource

    hits, answer, again, doc, missing, resource = run(server, steps)
    found = {h["document_id"] for h in hits.structured_content["hits"]}
    assert found and not found & {"91000001", "91000002", "91000004", "91000005"}  # never retracted or notices
    data = answer.structured_content
    assert data["status"] == "submitted" and data["slug"]
    refs = {r["document_id"]: r for r in data["references"]}
    assert "91000003" in refs and refs["91000003"]["notes"][0].startswith("Expression of concern")
    statement = (data["bottom_line"] or data["sections"][0]["statements"])[0]
    assert statement["citations"] and statement["provenance"][0]["document_id"] in refs
    assert [a.slug for a in articles.list()] == [data["slug"]]  # stored for review, once
    assert again.structured_content["slug"] == data["slug"] and again.structured_content["audience"] == "patient"
    facts = doc.structured_content
    assert facts["retracted"] and facts["text_length"] > 30 and len(facts["text"]) == 30
    assert missing.is_error and "no document with id 'nope'" in missing.content[0].text
    text = resource.contents[0].text
    assert text.startswith("# Inhaled corticosteroid step-down") and "Expression of concern" in text


def test_bedside_mcp_serves_over_stdio(tmp_path: Path, fixtures: Path) -> None:
    """The command itself, as an assistant launches it: stdout carries the protocol and nothing else."""
    import os
    import sys

    from mcp.client.stdio import StdioServerParameters

    src = Path(__file__).parents[1] / "src"
    env = {
        **os.environ,
        "BEDSIDE_DATA_DIR": str(tmp_path / "data"),
        "BEDSIDE_STARTER_KB": "false",
        "BEDSIDE_EMBEDDER": "hashing",
        "PYTHONPATH": str(src),
    }
    with Bedside(data_dir=tmp_path / "data", starter_kb=False) as b:
        assert b.ingest([fixtures / "medline" / "retractions.xml"]).ok
    params = StdioServerParameters(
        command=sys.executable, args=["-c", "from bedside.cli import main; main()", "mcp"], env=env
    )

    async def steps(client: Any) -> Any:
        tools = await client.list_tools()
        hits = await client.call_tool("search_evidence", {"query": "corticosteroid step-down"})
        return tools, hits

    tools, hits = run(params, steps)
    assert {t.name for t in tools.tools} == {"search_evidence", "answer_question", "get_document"}
    assert hits.structured_content["hits"][0]["document_id"] == "91000003"
