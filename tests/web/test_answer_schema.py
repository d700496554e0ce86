"""The JSON API's answer is `AnswerJSON`: the OpenAPI schema refers to the model, and what /api/ask sends is the
model's own dump of the answer."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from bedside.model import Answer, AnswerJSON

REF = {"$ref": "#/components/schemas/AnswerJSON"}


def test_the_openapi_schema_refers_to_the_answer_model(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ask = spec["paths"]["/api/ask"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ask == REF
    schemas = spec["components"]["schemas"]
    assert schemas["ArticleOut"]["properties"]["answer"] == REF
    assert schemas["ReviewDetailOut"]["properties"]["answer"]["$ref"] == REF["$ref"]
    model = AnswerJSON.model_json_schema(mode="serialization", ref_template="#/components/schemas/{model}")
    for name, schema in {"AnswerJSON": model, **model["$defs"]}.items():  # the answer, its parts, QuestionType
        assert schemas[name].get("properties", {}).keys() == schema.get("properties", {}).keys(), name
        assert schemas[name].get("enum") == schema.get("enum"), name
        assert schemas[name].get("required") == schema.get("required"), name
    statement = schemas["StatementJSON"]
    assert {"kind", "editor", "supported", "check"} <= statement["properties"].keys()
    assert statement["required"] == ["text", "citations", "provenance"]  # the rest only when they say something
    assert set(schemas["AnswerJSON"]["required"]) == set(AnswerJSON.model_fields)


def test_ask_sends_the_models_dump(client: TestClient, asked: dict[str, Any]) -> None:
    assert asked["bottom_line"] and asked["references"]
    assert AnswerJSON.model_validate(asked).model_dump(mode="json") == asked
    assert Answer.from_dict(asked).to_dict() == asked
    kinds = {s.get("kind") for s in asked["bottom_line"] + [s for sec in asked["sections"] for s in sec["statements"]]}
    assert kinds - {None}  # composed statements say why they are where they are
