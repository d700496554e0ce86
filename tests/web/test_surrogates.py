"""A lone surrogate (JSON's "\\ud800" escape) in any text a client sends is refused with 422, never a 500."""

from __future__ import annotations

import json

import pytest
from editorial_support import Editorial, ask_api
from fastapi.testclient import TestClient

from bedside.errors import InvalidInput

LONE = "\\ud800"  # as it appears inside a JSON document


def _post(client: TestClient, path: str, body: str, **headers: str) -> int:
    r = client.post(path, content=body.encode(), headers={"Content-Type": "application/json", **headers})
    assert r.status_code < 500, r.text
    return r.status_code


def test_lone_surrogates_are_refused_everywhere(api: TestClient, editorial: Editorial) -> None:
    slug = ask_api(api, "How is gout treated?")
    assert _post(api, "/api/ask", '{"question": "How is gout treated?", "conversation": "c-' + LONE + '"}') == 422
    assert _post(api, "/api/ask", '{"question": "How is gout treated?", "follows": "' + LONE + '"}') == 422
    assert _post(api, "/api/ask", '{"question": "How is ' + LONE + ' gout treated?"}') == 422
    answer = api.get(f"/api/articles/{slug}").json()["answer"]
    for field in ("title", "text", "heading"):
        edited = json.loads(json.dumps(answer))
        if field == "title":
            edited["title"] = "MARK"
        elif field == "text":
            edited["bottom_line"][0]["text"] = "MARK"
        else:
            edited["sections"] = [{"heading": "MARK", "statements": edited["bottom_line"]}]
        body = json.dumps(edited).replace("MARK", "Edited " + LONE)
        assert _post(api, f"/api/articles/{slug}/versions", body, **editorial.bearer("editor")) == 422, field
    comment = '{"action": "reject", "comment": "' + LONE + '", "version": 1}'
    assert _post(api, f"/api/articles/{slug}/review", comment, **editorial.bearer("admin")) == 422
    assert len(editorial.articles.get(slug).versions) == 1  # nothing was written
    editor = editorial.articles.get_user(editorial.email("editor"))
    with pytest.raises(InvalidInput, match="not valid Unicode"):  # below the web layer, the service refuses it too
        editorial.articles.edit(slug, editor, {**answer, "title": "Edited \ud800"})
