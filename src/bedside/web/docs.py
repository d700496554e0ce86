"""The API reference at /docs: a page of the site (its styles, its strict content security policy, no script), built
from the app's own OpenAPI document, so it never drifts from the API. The machine-readable description stays at
/openapi.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

METHOD_ORDER = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    anchor: str
    summary: str
    description: str
    parameters: tuple[Field, ...]
    body: str  # the request body's schema name ("" for none)
    body_fields: tuple[Field, ...]
    responses: tuple[tuple[str, str], ...]  # (status code, description)
    needs_token: bool


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A schema's name and body, following one $ref into the components."""
    ref = schema.get("$ref", "")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return name, spec.get("components", {}).get("schemas", {}).get(name, {})
    return str(schema.get("title", "")), schema


def type_of(spec: dict[str, Any], schema: dict[str, Any]) -> str:
    """A schema's type in words: "string", "integer or null", "list of Statement", "one of: a, b"."""
    if "$ref" in schema:
        return _resolve(spec, schema)[0]
    if "enum" in schema:
        return "one of: " + ", ".join(str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(dict.fromkeys(type_of(spec, s) for s in schema["anyOf"]))
    kind = schema.get("type", "")
    if kind == "array":
        return f"list of {type_of(spec, schema.get('items', {}))}"
    if kind == "null":
        return "null"
    return str(kind or "object")


def fields_of(spec: dict[str, Any], schema: dict[str, Any]) -> tuple[Field, ...]:
    """The top-level fields of an object schema, required first."""
    _, body = _resolve(spec, schema)
    required = set(body.get("required", []))
    found = [
        Field(name, type_of(spec, prop), name in required, str(prop.get("description", "")))
        for name, prop in body.get("properties", {}).items()
    ]
    return tuple(sorted(found, key=lambda f: not f.required))


def operations(spec: dict[str, Any]) -> list[Operation]:
    """Every operation of the OpenAPI document, by path then method."""
    found = []
    for path, item in spec.get("paths", {}).items():
        for method in sorted(item, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99):
            op = item[method]
            params = tuple(
                Field(
                    f"{p['name']} ({p.get('in', '')})",
                    type_of(spec, p.get("schema", {})),
                    bool(p.get("required")),
                    str(p.get("description", "") or p.get("schema", {}).get("description", "")),
                )
                for p in op.get("parameters", [])
            )
            content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            schema = content.get("schema", {})
            responses = tuple((code, str(r.get("description", ""))) for code, r in op.get("responses", {}).items())
            anchor = f"{method}-{path.strip('/').replace('/', '-').replace('{', '').replace('}', '')}"
            found.append(
                Operation(
                    method.upper(),
                    path,
                    anchor,
                    str(op.get("summary", "")),
                    str(op.get("description", "")).strip(),
                    params,
                    _resolve(spec, schema)[0] if schema else "",
                    fields_of(spec, schema) if schema else (),
                    responses,
                    any(code == "401" for code, _ in responses),
                )
            )
    return found


def mount(app: FastAPI) -> None:
    """Add /docs."""

    @app.get("/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        from bedside.web.pages import render

        spec = request.app.openapi()
        return render(request, "docs", {"operations": operations(spec), "api_version": spec["info"]["version"]})
