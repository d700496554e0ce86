"""Fuzzing the JSON API with schemathesis against bedside's own OpenAPI document.

Every operation in /openapi.json gets schema-conforming and schema-violating requests (Hypothesis, derandomized so
CI sees the same cases on every run): without a token, and, for the operations that take one, with a real account's
token, both on an article that exists and on generated slugs. No response may be a 5xx, fall outside the documented
status codes, content types or response schemas, accept input the schema forbids, or show a Python traceback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from editorial_support import Editorial, ask_api
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

EXAMPLES = 150  # per operation, generation mode and credential; the module keeps to about a minute on 2 cores
# The response-side checks, plus negative_data_rejection (input the schema forbids must get a 4xx). Left out:
# positive_data_acceptance, because valid input may rightly be refused (a generated slug names no article: 404; an
# edit citing a reference the article does not have: 422); ignored_auth, use_after_free and
# ensure_resource_availability, because they replay requests outside Hypothesis's control (authorization is
# covered by the review tests); max_response_time, because timing is not a property of the input.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "/', '.py", line ')


def no_traceback(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A response body never shows a Python traceback or a source location."""
    text = response.content.decode("utf-8", "replace")
    found = [mark for mark in TRACEBACK_MARKS if mark in text]
    assert not found, f"traceback in the body: {text[:500]}"


@dataclass
class Tally:
    """Responses seen, by operation, and the failures found (one per run: Hypothesis stops at the first)."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def operations(self) -> set[str]:
        return {label for label, _ in self.statuses}

    def total(self, label: str) -> int:
        return sum(n for (op, _), n in self.statuses.items() if op == label)


@dataclass(frozen=True)
class Fuzzed:
    """The app under test and what the fuzzing needs to know of it."""

    editorial: Editorial
    schema: OpenApiSchema
    slug: str  # an article that exists, so that token-holding requests reach the review desk


@pytest.fixture(scope="module")
def fuzzed(editorial_factory: Any) -> Iterator[Fuzzed]:
    """An editorial app, its schema loaded from its own /openapi.json, and one real article."""
    editorial: Editorial = editorial_factory()
    with TestClient(editorial.app, follow_redirects=False) as client:
        slug = ask_api(client, "How is iron deficiency anaemia treated?")
        yield Fuzzed(editorial, schemathesis.openapi.from_asgi("/openapi.json", editorial.app), slug)


def operations(schema: OpenApiSchema) -> list[Any]:
    """Every operation in the document (a schema error fails the test)."""
    return [result.ok() for result in schema.get_all_operations()]


def takes_input(operation: Any) -> bool:
    """Whether there is anything to send wrong: without parameters or a body there is no negative case."""
    return bool(operation.body) or any(True for _ in operation.iter_parameters())


def takes_token(schema: OpenApiSchema, operation: Any) -> bool:
    """Whether the document says the operation needs credentials."""
    return bool(schema.raw_schema["paths"][operation.path][operation.method.lower()].get("security"))


def examples(operation: Any, share: float = 1.0) -> int:
    """How many cases to generate for one run: EXAMPLES, fewer for the edit body (its nested lists cost Hypothesis
    about 0.1 s a case to build, so the module keeps to its time budget)."""
    base = EXAMPLES // 2 if operation.path.endswith("/versions") else EXAMPLES
    return max(10, int(base * share))


def fuzz(operation: Any, mode: GenerationMode, tally: Tally, name: str, share: float = 1.0, **fixed: Any) -> None:
    """Run Hypothesis over one operation in one mode, validating every response; a failure is recorded."""

    @settings(
        max_examples=examples(operation, share),
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def run(case: schemathesis.Case) -> None:
        response = case.call()
        tally.statuses[(operation.label, response.status_code)] += 1
        case.validate_response(response, checks=CHECKS, additional_checks=[no_traceback])

    try:
        run()
    except Exception as exc:  # noqa: BLE001 - every operation runs; the failures are reported together
        tally.failures.append(f"{operation.label} [{mode.value}, {name}]: {exc}")


def modes(operation: Any) -> list[GenerationMode]:
    return list(GenerationMode) if takes_input(operation) else [GenerationMode.POSITIVE]


@pytest.mark.slow
def test_fuzz_every_operation_without_a_token(fuzzed: Fuzzed) -> None:
    tally = Tally()
    ops = operations(fuzzed.schema)
    for operation in ops:
        for mode in modes(operation):
            fuzz(operation, mode, tally, "no token")
    assert not tally.failures, "\n\n".join(tally.failures)
    assert tally.operations() == {op.label for op in ops}  # every operation answered, none skipped
    for operation in filter(takes_input, ops):
        assert tally.total(operation.label) >= examples(operation), (operation.label, tally.statuses)
    assert tally.statuses[("POST /api/ask", 200)] > 0  # valid questions got through to composing answers
    guarded = {op.label for op in ops if takes_token(fuzzed.schema, op)}
    assert guarded and not [(op, code) for op, code in tally.statuses if op in guarded and code < 300]  # no token


@pytest.mark.slow
def test_fuzz_with_a_real_accounts_token(fuzzed: Fuzzed) -> None:
    tally = Tally()
    ops = [op for op in operations(fuzzed.schema) if takes_token(fuzzed.schema, op)]
    token = {"Authorization": f"Bearer {fuzzed.editorial.tokens['admin']}"}
    for operation in ops:
        for mode in GenerationMode if operation.body else [GenerationMode.POSITIVE]:  # else only the slug to vary
            fuzz(operation, mode, tally, "real article", headers=token, path_parameters={"slug": fuzzed.slug})
            fuzz(operation, mode, tally, "generated slug", 1 / 3, headers=token)
    assert not tally.failures, "\n\n".join(tally.failures)
    assert {op.label for op in ops} == {
        "GET /api/articles/{slug}/review",
        "POST /api/articles/{slug}/review",
        "POST /api/articles/{slug}/versions",
    }
    for operation in ops:  # the token was accepted: requests reached the review desk and the state machine
        assert tally.statuses[(operation.label, 401)] == 0, tally.statuses
        assert tally.statuses[(operation.label, 409)] + tally.statuses[(operation.label, 200)] > 0, tally.statuses
