"""CDS Hooks services and their cards, built from the knowledge base and the article service.

`bedside-patient-view` (hook patient-view): for each of the patient's active conditions (prefetched FHIR
Conditions), the best guideline passage about that condition, quoted with its source. `bedside-order-select` (hook
order-select): for each medication just selected, bedside's article on its dosing (composed and queued for review
when new), its bottom line and warnings quoted with their citations, and a link to the article and its sources.
Cards only quote the knowledge base's own sentences; a condition or drug it has nothing on gets no card.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from bedside.errors import InvalidInput
from bedside.model import Answer, SearchHit
from bedside.text.analysis import analyze

__all__ = ["SERVICES", "CdsEvidence", "MissingPrefetch", "discovery", "order_select", "patient_view"]

CONDITIONS_QUERY = "Condition?patient={{context.patientId}}&clinical-status=active"
PATIENT_VIEW = "bedside-patient-view"
ORDER_SELECT = "bedside-order-select"
SERVICES: dict[str, dict[str, Any]] = {
    PATIENT_VIEW: {
        "hook": "patient-view",
        "id": PATIENT_VIEW,
        "title": "bedside guideline reminders",
        "description": "Guideline passages from the bedside knowledge base for the patient's active conditions.",
        "prefetch": {"conditions": CONDITIONS_QUERY},
    },
    ORDER_SELECT: {
        "hook": "order-select",
        "id": ORDER_SELECT,
        "title": "bedside medication evidence",
        "description": "Dosing and warnings for the medication being ordered, cited from the bedside knowledge base.",
    },
}
MAX_CARDS = 5
SUMMARY_MAX = 139  # the specification: a summary under 140 characters
ACTIVE = {"active", "recurrence", "relapse"}
NOT_TRUE = {"refuted", "entered-in-error"}
# Words of a medication's name that are not the drug: strengths, units, dose forms, salts.
_NOT_DRUG = re.compile(
    r"\b(?:\d[\d.,]*|mg|mcg|µg|g|ml|l|iu|units?|%|oral|tablets?|capsules?|suspension|solution|injection|injectable|"
    r"powder|cream|ointment|gel|patch|inhaler|inhalation|spray|drops?|syrup|chewable|extended|delayed|release|film|"
    r"coated|prefilled|syringe|vial|pen|ophthalmic|topical|intravenous|subcutaneous|intramuscular|hydrochloride|"
    r"hcl|sodium|potassium|calcium|magnesium|sulfate|sulphate|phosphate|acetate|maleate|mesylate|besylate|tartrate|"
    r"succinate|citrate|fumarate|bromide|chloride)\b",
    re.I,
)


class MissingPrefetch(InvalidInput):
    """A prefetch the service needs is absent, and bedside does not query EHR FHIR servers itself: HTTP 412."""


class CdsEvidence(Protocol):
    """What the cards need from bedside (the web service, whose calls are serialised)."""

    def search_evidence(self, query: str, limit: int, evidence_type: str | None = None) -> list[SearchHit]: ...
    def article_answer(self, question: str) -> Answer: ...


@dataclass(frozen=True, slots=True)
class Links:
    """Where card links point: bedside's public base URL."""

    base: str

    def article(self, slug: str) -> str:
        return f"{self.base}/articles/{quote(slug)}"

    def search(self, words: str) -> str:
        return f"{self.base}/search?q={quote(words)}"


def discovery() -> dict[str, Any]:
    """The discovery document (GET /cds-services)."""
    return {"services": list(SERVICES.values())}


def check_request(service_id: str, body: Any) -> dict[str, Any]:
    """The request body when it is a CDS Hooks request for this service; InvalidInput naming the field otherwise."""
    if not isinstance(body, dict):
        raise InvalidInput("the request must be a JSON object")
    for name, kind in (("hook", str), ("hookInstance", str), ("context", dict)):
        if not isinstance(body.get(name), kind) or not body.get(name):
            raise InvalidInput(f"field {name!r} is required")
    expected = SERVICES[service_id]["hook"]
    if body["hook"] != expected:
        raise InvalidInput(f"service {service_id!r} answers hook {expected!r}, not {body['hook']!r}")
    if "fhirAuthorization" in body and not body.get("fhirServer"):
        raise InvalidInput("fhirAuthorization requires fhirServer")
    prefetch = body.get("prefetch", {})
    if not isinstance(prefetch, dict):
        raise InvalidInput("field 'prefetch' must be an object")
    return body


def patient_view(body: dict[str, Any], evidence: CdsEvidence, links: Links) -> dict[str, Any]:
    """Cards for the patient's active conditions; MissingPrefetch when the conditions were not prefetched."""
    prefetch = body.get("prefetch") or {}
    if "conditions" not in prefetch:
        raise MissingPrefetch(
            f"prefetch 'conditions' is missing ({CONDITIONS_QUERY}), and the request gives no fhirServer with "
            "fhirAuthorization to fetch it from"
        )
    cards = []
    for condition in active_conditions(prefetch["conditions"])[:MAX_CARDS]:
        hit = _about(condition, evidence.search_evidence(condition, 5, "guideline"))
        if hit is not None:
            cards.append(_guideline_card(condition, hit, links))
    return {"cards": cards}


def order_select(body: dict[str, Any], evidence: CdsEvidence, links: Links) -> dict[str, Any]:
    """Cards for the medications just selected (context.selections within context.draftOrders)."""
    context = body["context"]
    selections = context.get("selections")
    orders = context.get("draftOrders")
    if not isinstance(selections, list) or not selections or not isinstance(orders, dict):
        raise InvalidInput("order-select context needs 'selections' and a 'draftOrders' Bundle")
    cards = []
    for name in selected_medications(orders, selections)[:MAX_CARDS]:
        drug = drug_name(name)
        if not drug:
            continue
        answer = evidence.article_answer(f"What is the dose of {drug}?")
        if answer.insufficient_evidence or not answer.references:
            continue
        cards.append(_medication_card(drug, answer, links))
    return {"cards": cards}


def active_conditions(prefetched: Any) -> list[str]:
    """The names of the active, not refuted Conditions in a prefetched Bundle (or single Condition), in order."""
    if prefetched is None:
        return []
    resources = (
        [e.get("resource") for e in prefetched.get("entry", [])]
        if prefetched.get("resourceType") == "Bundle"
        else [prefetched]
    )
    names: list[str] = []
    for r in resources:
        if not isinstance(r, dict) or r.get("resourceType") != "Condition":
            continue
        clinical = _codes(r.get("clinicalStatus"))
        verification = _codes(r.get("verificationStatus"))
        if (clinical and not clinical & ACTIVE) or verification & NOT_TRUE:
            continue
        name = _concept_name(r.get("code"))
        if name and name.lower() not in {n.lower() for n in names}:
            names.append(name)
    return names


def selected_medications(orders: dict[str, Any], selections: Iterable[Any]) -> list[str]:
    """The names of the selected MedicationRequests (or legacy MedicationOrders) in the draft orders Bundle."""
    wanted = {str(s) for s in selections}
    names = []
    for entry in orders.get("entry", []):
        r = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(r, dict) or r.get("resourceType") not in ("MedicationRequest", "MedicationOrder"):
            continue
        if f"{r['resourceType']}/{r.get('id', '')}" not in wanted:
            continue
        name = _concept_name(r.get("medicationCodeableConcept")) or str(
            (r.get("medicationReference") or {}).get("display") or ""
        )
        if name:
            names.append(name)
    return names


def drug_name(name: str) -> str:
    """The drug in a medication's name, without strengths, units, forms or salts ("amoxicillin / clavulanate")."""
    words = _NOT_DRUG.sub(" ", name.replace("/", " / "))
    parts = [" ".join(p.split()) for p in words.split("/")]
    return " / ".join(p for p in parts if p).lower()


def _codes(concept: Any) -> set[str]:
    if not isinstance(concept, dict):
        return set()
    return {str(c.get("code", "")).lower() for c in concept.get("coding", []) if isinstance(c, dict)}


def _concept_name(concept: Any) -> str:
    if not isinstance(concept, dict):
        return ""
    if str(concept.get("text") or "").strip():
        return str(concept["text"]).strip()
    for coding in concept.get("coding", []):
        if isinstance(coding, dict) and str(coding.get("display") or "").strip():
            return str(coding["display"]).strip()
    return ""


def _about(condition: str, hits: list[SearchHit]) -> SearchHit | None:
    """The best hit that names every term of the condition in its title, section or text."""
    terms = set(analyze(condition))
    for hit in hits:
        if terms and terms <= set(analyze(f"{hit.title} {hit.section} {hit.text}")):
            return hit
    return None


def _summary(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def _md(text: str) -> str:
    """Source text as Markdown that shows it as written."""
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", " ".join(text.split()))


def _guideline_card(condition: str, hit: SearchHit, links: Links) -> dict[str, Any]:
    year = f", {hit.year}" if hit.year else ""
    detail = (
        f"**{_md(condition)}** — from *{_md(hit.title)}* ({_md(hit.source or hit.evidence_type.label)}{year}):\n\n"
        f"> {_md(hit.text)}\n\nQuoted from the bedside knowledge base; verify against the full guideline."
    )
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(f"{condition}: {hit.evidence_type.label} — {hit.title}"),
        "indicator": "info",
        "detail": detail,
        "source": {"label": _summary(f"bedside: {hit.title}")},
        "links": [{"label": f"More on {condition} in bedside", "url": links.search(condition), "type": "absolute"}],
    }
    if hit.url:
        card["source"]["url"] = hit.url
    return card


def _medication_card(drug: str, answer: Answer, links: Links) -> dict[str, Any]:
    lines: list[str] = []
    for s in answer.bottom_line:
        lines.append(f"**{_md(s.text)}** {_marks(s.citations)}")
    warning = False
    for section in answer.sections:
        is_warning = "warning" in section.heading.lower()
        warning = warning or is_warning
        lines += ["", f"**{_md(section.heading)}**"]
        lines += [f"- {_md(s.text)} {_marks(s.citations)}" for s in section.statements[: 6 if is_warning else 3]]
    lines += ["", "**References**"]
    lines += [f"{r.number}. {_md(r.title)}" + (f" ({r.year})" if r.year else "") for r in answer.references]
    if answer.status != "approved":
        lines += ["", "*Pending human review by the bedside editorial board.*"]
    url = links.article(answer.slug)
    return {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(f"{drug.capitalize()}: dosing and warnings from bedside"),
        "indicator": "warning" if warning else "info",
        "detail": "\n".join(lines).strip(),
        "source": {"label": "bedside", "url": url},
        "links": [{"label": f"bedside article: {answer.title}"[:140], "url": url, "type": "absolute"}],
    }


def _marks(numbers: Iterable[int]) -> str:
    return "".join(f"\\[{n}\\]" for n in numbers)


Hook = Callable[[dict[str, Any], CdsEvidence, Links], dict[str, Any]]
HOOKS: dict[str, Hook] = {PATIENT_VIEW: patient_view, ORDER_SELECT: order_select}
