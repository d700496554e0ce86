"""CDS Hooks 2.0: discovery, patient-view and order-select cards per the specification, the EHR's JWT checked
against configured keys, 412 without the prefetch a service needs, and feedback. Requests: tests/fixtures/cds."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

jwt = pytest.importorskip("jwt")

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from bedside.answer.pipeline import slug_for  # noqa: E402
from bedside.config import load_settings  # noqa: E402
from bedside.errors import InvalidInput  # noqa: E402
from bedside.web import create_app  # noqa: E402

BASE = "https://bedside.example.org"
ISSUER = "https://ehr.example.org/"
CARD_KEYS = {
    "uuid",
    "summary",
    "detail",
    "indicator",
    "source",
    "suggestions",
    "selectionBehavior",
    "overrideReasons",
    "links",
}


class Ehr:
    """A CDS Client: signs a fresh JWT (ES384, as the specification recommends) for every request."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, kid: str = "ehr-key-1", iss: str = ISSUER) -> None:
        self.key, self.kid, self.iss = key, kid, iss

    def token(self, path: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": self.iss,
            "aud": BASE + path,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
            **claims,
        }
        return jwt.encode(payload, self.key, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})

    def headers(self, path: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(path, **claims)}"}


@pytest.fixture(scope="module")
def ehr_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture(scope="module")
def cds(
    web_data: Path, ehr_key: ec.EllipticCurvePrivateKey, tmp_path_factory: pytest.TempPathFactory, app_factory: Any
):
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ehr_key.public_key()))
    keys = tmp_path_factory.mktemp("cds") / "jwks.json"
    keys.write_text(json.dumps({"keys": [{**jwk, "kid": "ehr-key-1", "use": "sig", "alg": "ES384"}]}))
    app, articles = app_factory(web_data, cds_hooks=True, cds_jwks=str(keys), cds_issuers=[ISSUER], cds_base_url=BASE)
    with TestClient(app, follow_redirects=False) as client:
        yield client, Ehr(ehr_key), articles, web_data


def request(fixtures: Path, name: str) -> dict[str, Any]:
    return json.loads((fixtures / "cds" / name).read_text(encoding="utf-8"))


def check_card(card: dict[str, Any]) -> None:
    assert set(card) <= CARD_KEYS
    assert card["summary"] and len(card["summary"]) < 140
    assert card["indicator"] in ("info", "warning", "critical")
    assert card["source"]["label"]
    for link in card.get("links", []):
        assert link["type"] in ("absolute", "smart") and link["url"].startswith(BASE) and link["label"]
    assert all(v not in (None, "", [], {}) for v in card.values())  # the specification: omit, never empty


def test_discovery_lists_the_services_with_their_prefetch(cds) -> None:
    client, ehr, _, _ = cds
    r = client.get("/cds-services", headers=ehr.headers("/cds-services"))
    assert r.status_code == 200, r.text
    services = {s["id"]: s for s in r.json()["services"]}
    assert {s["hook"] for s in services.values()} == {"patient-view", "order-select"}
    assert all(s["description"] and s["title"] for s in services.values())
    assert services["bedside-patient-view"]["prefetch"] == {
        "conditions": "Condition?patient={{context.patientId}}&clinical-status=active"
    }


def test_patient_view_gives_a_guideline_card_for_each_active_condition(cds, fixtures) -> None:
    client, ehr, _, _ = cds
    path = "/cds-services/bedside-patient-view"
    r = client.post(path, json=request(fixtures, "patient_view.json"), headers=ehr.headers(path))
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    assert len(cards) == 1  # the resolved and the entered-in-error conditions give none
    [card] = cards
    check_card(card)
    assert card["summary"].startswith("Community-acquired pneumonia: Guideline")
    assert "> " in card["detail"] and "pneumonia" in card["detail"].lower()


def test_order_select_gives_cited_dosing_evidence_with_a_link_to_the_article(cds, fixtures) -> None:
    client, ehr, articles, _ = cds
    path = "/cds-services/bedside-order-select"
    r = client.post(path, json=request(fixtures, "order_select.json"), headers=ehr.headers(path))
    assert r.status_code == 200, r.text
    [card] = r.json()["cards"]  # the diet order is no medication: one card
    check_card(card)
    assert card["summary"] == "Amoxicillin: dosing and warnings from bedside"
    slug = card["links"][0]["url"].rsplit("/", 1)[-1]
    article = articles.get(slug)  # composed and queued for review, like a question asked on the web
    assert article.question == "What is the dose of amoxicillin?"  # as the service asked it
    assert slug == slug_for("what is the dose of amoxicillin")  # filed under the normalised question
    assert "**References**" in card["detail"] and "Pending human review" in card["detail"]
    cited = [r["title"] for r in article.latest.answer["references"]]
    assert cited and all(title.replace("*", "") in card["detail"].replace("\\", "") for title in cited)


def test_a_missing_prefetch_is_412_and_a_null_one_means_no_conditions(cds, fixtures) -> None:
    client, ehr, _, _ = cds
    path = "/cds-services/bedside-patient-view"
    body = request(fixtures, "patient_view.json")
    del body["prefetch"]
    r = client.post(path, json=body, headers=ehr.headers(path))
    assert r.status_code == 412 and "prefetch 'conditions' is missing" in r.json()["detail"]
    body["prefetch"] = {"conditions": None}
    r = client.post(path, json=body, headers=ehr.headers(path))
    assert r.status_code == 200 and r.json() == {"cards": []}


def test_untrusted_callers_are_refused(cds, fixtures, tmp_path) -> None:
    client, ehr, _, _ = cds
    path = "/cds-services/bedside-patient-view"
    body = request(fixtures, "patient_view.json")
    stranger = Ehr(ec.generate_private_key(ec.SECP384R1()))
    cases = {
        "no token": {},
        "other key": stranger.headers(path),
        "wrong audience": ehr.headers("/cds-services/bedside-order-select"),
        "unknown issuer": Ehr(ehr.key, iss="https://other-ehr.example.org/").headers(path),
        "expired": ehr.headers(path, exp=int(time.time()) - 3600, iat=int(time.time()) - 3700),
        "unknown kid": Ehr(ehr.key, kid="nope").headers(path),
        "HMAC": {
            "Authorization": "Bearer "
            + jwt.encode(
                {"iss": ISSUER, "aud": BASE + path, "exp": int(time.time()) + 60, "iat": int(time.time()), "jti": "x"},
                "shared-secret-of-at-least-32-bytes!!",
                algorithm="HS256",
                headers={"kid": "ehr-key-1"},
            )
        },
    }
    for why, headers in cases.items():
        r = client.post(path, json=body, headers=headers)
        assert r.status_code == 401, (why, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
    token = ehr.token(path)
    assert client.post(path, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    replay = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    assert replay.status_code == 401 and "replayed" in replay.json()["detail"]
    assert client.get("/cds-services").status_code == 401


def test_bad_requests_name_the_problem(cds, fixtures) -> None:
    client, ehr, _, _ = cds
    path = "/cds-services/bedside-order-select"
    body = request(fixtures, "patient_view.json")  # the wrong hook for this service
    r = client.post(path, json=body, headers=ehr.headers(path))
    assert r.status_code == 422 and "answers hook 'order-select', not 'patient-view'" in r.json()["detail"]
    r = client.post("/cds-services/nope", json=body, headers=ehr.headers("/cds-services/nope"))
    assert r.status_code == 404


def test_feedback_is_validated_and_kept(cds) -> None:
    client, ehr, _, data_dir = cds
    path = "/cds-services/bedside-order-select/feedback"
    accepted = {
        "feedback": [
            {
                "card": "4c1d9a3e-0000-4000-8000-000000000001",
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "5b2e8f4d-0000-4000-8000-000000000002"}],
                "outcomeTimestamp": "2026-12-01T09:00:00Z",
            }
        ]
    }
    overridden = {
        "feedback": [
            {
                "card": "4c1d9a3e-0000-4000-8000-000000000003",
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {"code": "not-relevant", "system": "https://ehr.example.org/override-reasons"},
                    "userComment": "Already discussed with the patient.",
                },
                "outcomeTimestamp": "2026-12-01T09:05:00Z",
            }
        ]
    }
    for body in (accepted, overridden):
        r = client.post(path, json=body, headers=ehr.headers(path))
        assert r.status_code == 200, r.text
    bad = {"feedback": [{"card": "x", "outcome": "accepted", "outcomeTimestamp": "2026-12-01T09:00:00Z"}]}
    r = client.post(path, json=bad, headers=ehr.headers(path))
    assert r.status_code == 422 and "acceptedSuggestions is required" in r.json()["detail"]
    lines = [json.loads(line) for line in (data_dir / "cds-feedback.jsonl").read_text().splitlines()]
    assert [(x["outcome"], x["iss"], x["service"]) for x in lines[-2:]] == [
        ("accepted", ISSUER, "bedside-order-select"),
        ("overridden", ISSUER, "bedside-order-select"),
    ]


def test_cds_hooks_need_trusted_keys(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="needs BEDSIDE_CDS_JWKS"):
        create_app(load_settings(data_dir=tmp_path, embedder="hashing", starter_kb=False, cds_hooks=True))
    (tmp_path / "bad.json").write_text('{"keys": [{"kty": "EC"}]}')
    with pytest.raises(InvalidInput, match="every key has a kid"):
        create_app(
            load_settings(
                data_dir=tmp_path,
                embedder="hashing",
                starter_kb=False,
                cds_hooks=True,
                cds_jwks=str(tmp_path / "bad.json"),
            )
        )


def test_a_missing_prefetch_is_read_from_the_fhir_server_with_the_token_given(cds, fixtures) -> None:
    import httpx

    client, ehr, _, _ = cds
    path = "/cds-services/bedside-patient-view"
    body = request(fixtures, "patient_view.json")
    bundle = body.pop("prefetch")["conditions"]
    body["fhirAuthorization"] = {
        "access_token": "fhir-token-1",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/Condition.read",
        "subject": "bedside",
    }
    seen: list[httpx.Request] = []

    def fhir(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if req.headers.get("authorization") != "Bearer fhir-token-1":
            return httpx.Response(401)
        return httpx.Response(200, json=bundle)

    client.app.state.cds.fhir_transport = httpx.MockTransport(fhir)
    try:
        r = client.post(path, json=body, headers=ehr.headers(path))
        assert r.status_code == 200, r.text
        assert [c["summary"].split(":")[0] for c in r.json()["cards"]] == ["Community-acquired pneumonia"]
        assert str(seen[0].url) == "https://ehr.example.org/fhir/Condition?patient=pat-7781&clinical-status=active"
        body["fhirAuthorization"]["access_token"] = "expired"
        r = client.post(path, json=body, headers=ehr.headers(path))
        assert r.status_code == 412 and "could not be read from the FHIR server" in r.json()["detail"]
    finally:
        client.app.state.cds.fhir_transport = None
