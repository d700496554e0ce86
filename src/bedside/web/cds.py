"""CDS Hooks 2.0 endpoints: discovery, the services, and feedback. Every call must carry the CDS Client's JWT.

Mounted only when BEDSIDE_CDS_HOOKS is on. Errors answer JSON: 401 for an untrusted caller, 404 for an unknown
service, 412 when a prefetch the service needs is missing and cannot be read from the CDS Client's FHIR server
(with the `fhirAuthorization` token it sent), 422 for a malformed request.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from bedside.cds.cards import (
    CONDITIONS_QUERY,
    HOOKS,
    PATIENT_VIEW,
    SERVICES,
    Links,
    MissingPrefetch,
    check_request,
    discovery,
)
from bedside.cds.client_jwt import ClientVerifier, NotTrusted, load_jwks
from bedside.config import Settings
from bedside.errors import InvalidInput
from bedside.web.deps import get_service
from bedside.web.site import WebService

__all__ = ["CdsState", "router"]

router = APIRouter(prefix="/cds-services", tags=["CDS Hooks"])
OUTCOMES = ("accepted", "overridden")


class CdsState:
    """The app's CDS Hooks configuration: the JWT verifier, the public base URL and the feedback log."""

    def __init__(self, settings: Settings) -> None:
        if not settings.cds_jwks:
            raise InvalidInput("BEDSIDE_CDS_HOOKS needs BEDSIDE_CDS_JWKS: the JWK Set file of the trusted CDS Clients")
        self.verifier = ClientVerifier(load_jwks(Path(settings.cds_jwks).expanduser()), settings.cds_issuers)
        self.base_url = settings.cds_base_url.rstrip("/")
        self.feedback_log = Path(settings.data_dir) / "cds-feedback.jsonl"
        self.https_only = settings.environment == "production"
        self.fhir_transport: httpx.BaseTransport | None = None  # the network; tests replace it
        self._lock = threading.Lock()

    def fetch_conditions(self, body: dict[str, Any]) -> None:
        """Fill a missing `conditions` prefetch from the CDS Client's FHIR server with the token it gave, when it
        gave both (CDS Hooks "FHIR Resource Access"); MissingPrefetch when it cannot be had."""
        prefetch = body.setdefault("prefetch", {})
        if "conditions" in prefetch:
            return
        server, grant = body.get("fhirServer"), body.get("fhirAuthorization")
        patient = body["context"].get("patientId")
        if not (isinstance(server, str) and isinstance(grant, dict) and grant.get("access_token") and patient):
            return  # the hook answers 412
        if self.https_only and not server.startswith("https://"):
            raise MissingPrefetch("fhirServer must be https in production; the conditions prefetch is missing")
        query = CONDITIONS_QUERY.replace("{{context.patientId}}", str(patient))
        try:
            with httpx.Client(transport=self.fhir_transport, timeout=5) as http:
                r = http.get(
                    f"{server.rstrip('/')}/{query}",
                    headers={"Authorization": f"Bearer {grant['access_token']}", "Accept": "application/fhir+json"},
                )
            r.raise_for_status()
            bundle = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise MissingPrefetch(f"the conditions could not be read from the FHIR server: {exc}") from None
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise MissingPrefetch("the FHIR server did not answer the conditions search with a Bundle")
        prefetch["conditions"] = bundle

    def base(self, request: Request) -> str:
        """bedside's public base URL: the configured one, else the one this request came to."""
        return self.base_url or str(request.base_url).rstrip("/")

    def record(self, service_id: str, issuer: str, items: list[dict[str, Any]]) -> None:
        """Append feedback to the data directory's log, one JSON line per item."""
        with self._lock, self.feedback_log.open("a", encoding="utf-8") as fh:
            for item in items:
                fh.write(json.dumps({"service": service_id, "iss": issuer, **item}, ensure_ascii=False) + "\n")


def _state(request: Request) -> CdsState:
    state: CdsState = request.app.state.cds
    return state


def _trusted(request: Request, state: CdsState) -> dict[str, Any]:
    audience = state.base(request) + request.url.path
    try:
        return state.verifier.verify(request.headers.get("authorization"), audience)
    except NotTrusted as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None


State = Annotated[CdsState, Depends(_state)]
Service = Annotated[WebService, Depends(get_service)]


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise InvalidInput(f"the request body is not JSON: {exc}") from None


@router.get("")
def services(request: Request, state: State) -> dict[str, Any]:
    """The CDS Services bedside offers, with the data each wants prefetched."""
    _trusted(request, state)
    return discovery()


@router.post("/{service_id}")
async def call_service(request: Request, service_id: str, state: State, service: Service) -> dict[str, Any]:
    """Cards for one hook invocation."""
    _trusted(request, state)
    if service_id not in SERVICES:
        raise HTTPException(404, f"no CDS Service {service_id!r}")
    body = check_request(service_id, await _json(request))
    try:
        if service_id == PATIENT_VIEW:
            await run_in_threadpool(state.fetch_conditions, body)
        return await run_in_threadpool(HOOKS[service_id], body, service, Links(state.base(request)))
    except MissingPrefetch as exc:
        raise HTTPException(412, str(exc)) from None


@router.post("/{service_id}/feedback")
async def feedback(request: Request, service_id: str, state: State) -> dict[str, Any]:
    """What the clinician did with the cards (accepted or overridden); kept in the data directory."""
    claims = _trusted(request, state)
    if service_id not in SERVICES:
        raise HTTPException(404, f"no CDS Service {service_id!r}")
    body = await _json(request)
    items = body.get("feedback") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise InvalidInput("field 'feedback' must be a non-empty array")
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("card"), str) or not item["card"]:
            raise InvalidInput(f"feedback[{i}].card is required")
        if item.get("outcome") not in OUTCOMES:
            raise InvalidInput(f"feedback[{i}].outcome must be 'accepted' or 'overridden'")
        if not isinstance(item.get("outcomeTimestamp"), str) or not item["outcomeTimestamp"]:
            raise InvalidInput(f"feedback[{i}].outcomeTimestamp is required")
        if item["outcome"] == "accepted" and not item.get("acceptedSuggestions"):
            raise InvalidInput(f"feedback[{i}].acceptedSuggestions is required for an accepted outcome")
    await run_in_threadpool(state.record, service_id, str(claims["iss"]), items)
    return {}
