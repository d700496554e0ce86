"""Text in a source that speaks to a language model instead of a reader (indirect prompt injection).

A clinical source describes patients, drugs and tests; it does not tell an assistant what to write, reveal,
approve or fetch. A passage that does is not evidence: the verifier never lets it support a statement and the
extractive composer never quotes it, whatever else it says (its other sentences may be planted to look honest).
The patterns aim at wording that addresses a model ("ignore previous instructions", "SYSTEM:", "reveal the API
key", "state that ...") and stay clear of clinical imperatives ("do not give", "state the dose in mg").
"""

from __future__ import annotations

import re

_PATTERNS = (
    # Overriding the rules: "ignore previous instructions", "disregard all prior rules".
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.]{0,20}?\b(?:previous|prior|above|earlier|preceding|all|any|"
    r"your|system|safety|original|other|these|those)\s+(?:\w+\s+)?(?:instructions?|rules|prompts?|guardrails)\b",
    r"\bnew instructions?\s*:|\b(?:updated|real|actual|hidden)\s+instructions?\b",
    # Role markers and chat-template tokens: "SYSTEM:", "[INST]", "<|im_start|>", "### Instruction".
    r"(?:^|[\n\[(<\"']|[.!?]\s)\s*(?:system|assistant|developer)\s*(?:override|message|prompt)?\s*:",
    r"(?-i:\b(?:SYSTEM|ASSISTANT|DEVELOPER)(?: (?:OVERRIDE|MESSAGE|PROMPT))?\s*:)",
    r"<\|[a-z_]+\|>|\[/?inst\]|\[/?system\]|#{2,}\s*(?:instruction|system)\b",
    # Addressing the model itself.
    r"\b(?:you are now|as an ai|as a language model|note to the (?:model|assistant|ai))\b",
    r"\b(?:language models?|llms?|ai assistants?|assistants?|chatbots?|the model|ai systems?)\b"
    r"[^.]{0,60}?\b(?:must|should|shall|will|need to|are required to)\s+(?:write|state|say|answer|reply|respond|"
    r"output|include|claim|report|tell|cite|mention)\b",
    r"\bwhen (?:summari[sz]ing|answering|responding|replying|citing|generating)"
    r"(?:\s*,|\s+(?:this|these|the question|questions?|any question|about|on)\b)",
    # Telling it what to say: "... and state that", "Tell the user:", "reply that", "cite this as [1]".
    r"(?:^|[.:;!]\s*|\band\s+|\bthen\s+)(?:state|say|write|claim|assert|reply|respond|answer|output)\s+(?:only\s+)?"
    r"(?:that|with|the following)\b",
    r"\btell (?:the )?(?:user|reader)s?\b\s*(?::|that)",
    r"\bcite (?:this|these|it|the following)\s+(?:as|to)\b",
    r"\b(?:with(?:out)?|no) (?:a )?citations?\s*:",
    # Secrets and the prompt: "print your system prompt", "reveal the API key".
    r"\b(?:print|reveal|repeat|show|output|disclose|leak|display|share|echo|include)\b[^.]{0,30}?"
    r"\b(?:system prompt|(?:your|the) (?:instructions|prompt|rules)|api[\s_-]?key|secret key|credentials|"
    r"access token|bearer token|password)\b",
    # The editorial workflow: "approve this article", "mark as reviewed", "set the status to approved".
    r"\b(?:approve|publish|sign off)\s+(?:this|the)\s+(?:article|answer|summary|page)\b",
    r"\bmark (?:this|it|the (?:article|answer))?\s*(?:as )?(?:reviewed|approved|verified)\b",
    r"\b(?:set|change) (?:the |its )?(?:review )?status to\b",
    # Outbound requests and exfiltration: "fetch http://...", markdown images, "append ... to the URL".
    r"\b(?:fetch|curl|wget|browse to|navigate to|exfiltrate|ping|request)\b[^.]{0,40}?(?:https?://|www\.)",
    r"\b(?:send|post|upload|transmit|forward|append)\s+(?:the |this |your |all )?(?:data|answer|conversation|"
    r"question|prompt|key|contents?|history|passages?)\b[^.]{0,30}?\b(?:to|in)\b",
    r"!\[[^\]]*\]\(\s*https?://",
    r"<<<|>>>|\bend passage\b",
)
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)


def instruction_in(text: str) -> str:
    """The first fragment of text that addresses a language model, or "" when there is none."""
    m = _INJECTION.search(text)
    return m.group(0).strip() if m else ""


def addresses_model(text: str) -> bool:
    """True when text holds an instruction to a language model (so it is never evidence)."""
    return _INJECTION.search(text) is not None
